package tokenizer

import "sync"

const endOfWord = "</w>"

// byteToRune is GPT-2/CLIP's reversible byte -> printable character map:
// printable Latin-1 bytes map to themselves, the 68 others to U+0100.. in
// byte order. Vocabulary strings are spelled in these characters.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	back := make(map[rune]byte, 256)
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)
	}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printable(b) {
			fwd[b] = rune(b)
		} else {
			fwd[b] = next
			next++
		}
		back[fwd[b]] = byte(b)
	}
	return fwd, back
}()

// byteEncode spells the UTF-8 bytes of word in byte-map characters, one
// string per byte.
func byteEncode(word string) []string {
	syms := make([]string, len(word))
	for i := 0; i < len(word); i++ {
		syms[i] = string(byteToRune[word[i]])
	}
	return syms
}

type pair struct{ a, b string }

// bpeCache memoises word -> merged symbols. Prompts repeat words constantly,
// and merging a long word is quadratic; the cache is cleared when it grows
// past maxCacheEntries so hostile input cannot grow it without bound.
type bpeCache struct {
	mu sync.RWMutex
	m  map[string][]string
}

const maxCacheEntries = 1 << 16

func (c *bpeCache) get(w string) ([]string, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.m[w]
	return s, ok
}

func (c *bpeCache) put(w string, s []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCacheEntries || c.m == nil {
		c.m = make(map[string][]string)
	}
	c.m[w] = s
}

// bpe splits a pre-tokenised word into vocabulary symbols exactly as CLIP's
// SimpleTokenizer.bpe does: start from its byte characters with "</w>"
// appended to the last, then repeatedly merge every occurrence (left to
// right, non-overlapping) of the adjacent pair with the lowest merge rank.
func (v *vocab) bpe(word string) []string {
	if s, ok := v.cache.get(word); ok {
		return s
	}
	syms := byteEncode(word)
	syms[len(syms)-1] += endOfWord
	for len(syms) > 1 {
		best, bestRank := -1, 0
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := v.ranks[pair{syms[i], syms[i+1]}]; ok && (best < 0 || r < bestRank) {
				best, bestRank = i, r
			}
		}
		if best < 0 {
			break
		}
		first, second := syms[best], syms[best+1]
		merged := syms[:0:0]
		for i := 0; i < len(syms); {
			if i+1 < len(syms) && syms[i] == first && syms[i+1] == second {
				merged = append(merged, first+second)
				i += 2
			} else {
				merged = append(merged, syms[i])
				i++
			}
		}
		syms = merged
	}
	v.cache.put(word, syms)
	return syms
}
