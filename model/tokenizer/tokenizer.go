// Package tokenizer implements the CLIP byte-level BPE tokenizer used by
// Stable Diffusion 1.x text encoders, reproducing OpenAI CLIP's
// simple_tokenizer (and Hugging Face's CLIPTokenizer) id for id, plus added
// tokens for textual-inversion style placeholders.
package tokenizer

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"kata/assets"
)

// Special token strings of the CLIP vocabulary.
const (
	StartOfText = "<|startoftext|>"
	EndOfText   = "<|endoftext|>"
)

// SDLength is the sequence length of Stable Diffusion 1.x text encoders.
const SDLength = 77

// vocab is the immutable base vocabulary, shared by every Tokenizer loaded
// from the same files.
type vocab struct {
	encoder map[string]int
	decoder []string // id -> token ("" for ids the vocabulary lacks)
	ranks   map[pair]int
	cache   bpeCache
	bos     int
	eos     int
	pad     int
}

// Tokenizer turns prompts into CLIP token ids. Encode and friends are safe
// for concurrent use; AddToken may also be called concurrently with them.
type Tokenizer struct {
	v *vocab

	mu       sync.RWMutex
	added    []string       // added token texts (as given), id = len(decoder)+index
	addedKey map[string]int // cleaned text -> id
}

// Load reads vocab.json and merges.txt (Hugging Face CLIPTokenizer layout)
// from dir; an optional special_tokens_map.json there chooses the padding
// token (default <|endoftext|>, as SD 1.x uses).
func Load(dir string) (*Tokenizer, error) {
	return LoadFS(os.DirFS(dir), ".")
}

// LoadFS is Load reading from a file system (an embed.FS, a zip, ...).
func LoadFS(fsys fs.FS, dir string) (*Tokenizer, error) {
	v, err := loadVocab(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: load %s: %w", dir, err)
	}
	return &Tokenizer{v: v}, nil
}

var (
	defaultOnce  sync.Once
	defaultVocab *vocab
	defaultErr   error
)

// Default returns a new Tokenizer over the CLIP vocabulary embedded in
// assets.CLIP. The vocabulary is parsed once per process; each call returns
// an independent Tokenizer so added tokens do not leak between callers.
func Default() (*Tokenizer, error) {
	defaultOnce.Do(func() {
		defaultVocab, defaultErr = loadVocab(assets.CLIP, "clip")
	})
	if defaultErr != nil {
		return nil, fmt.Errorf("tokenizer: embedded CLIP vocabulary: %w", defaultErr)
	}
	return &Tokenizer{v: defaultVocab}, nil
}

func loadVocab(fsys fs.FS, dir string) (*vocab, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, "vocab.json"))
	if err != nil {
		return nil, err
	}
	var enc map[string]int
	if err := json.Unmarshal(raw, &enc); err != nil {
		return nil, fmt.Errorf("vocab.json: %w", err)
	}
	v := &vocab{encoder: enc}
	maxID := -1
	for tok, id := range enc {
		if id < 0 || id > 10_000_000 {
			return nil, fmt.Errorf("vocab.json: token %q has id %d out of range", tok, id)
		}
		maxID = max(maxID, id)
	}
	v.decoder = make([]string, maxID+1)
	for tok, id := range enc {
		if v.decoder[id] != "" {
			return nil, fmt.Errorf("vocab.json: id %d used by %q and %q", id, v.decoder[id], tok)
		}
		v.decoder[id] = tok
	}
	// Every byte symbol must exist, alone and word-final, or some text
	// could not be encoded.
	for b := 0; b < 256; b++ {
		s := string(byteToRune[b])
		for _, tok := range []string{s, s + endOfWord} {
			if _, ok := enc[tok]; !ok {
				return nil, fmt.Errorf("vocab.json lacks byte token %q", tok)
			}
		}
	}
	var ok bool
	if v.bos, ok = enc[StartOfText]; !ok {
		return nil, fmt.Errorf("vocab.json lacks %s", StartOfText)
	}
	if v.eos, ok = enc[EndOfText]; !ok {
		return nil, fmt.Errorf("vocab.json lacks %s", EndOfText)
	}
	v.pad = v.eos
	if pad, err := readPadToken(fsys, dir); err != nil {
		return nil, err
	} else if pad != "" {
		if v.pad, ok = enc[pad]; !ok {
			return nil, fmt.Errorf("special_tokens_map.json: pad token %q is not in the vocabulary", pad)
		}
	}
	if v.ranks, err = loadMerges(fsys, dir, enc); err != nil {
		return nil, err
	}
	return v, nil
}

func loadMerges(fsys fs.FS, dir string, enc map[string]int) (map[pair]int, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, "merges.txt"))
	if err != nil {
		return nil, err
	}
	ranks := make(map[pair]int, 50000)
	rank := 0
	for n, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" || (n == 0 && strings.HasPrefix(line, "#version")) {
			continue
		}
		a, b, ok := strings.Cut(line, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("merges.txt line %d: want two symbols, got %q", n+1, line)
		}
		if _, ok := enc[a+b]; !ok {
			return nil, fmt.Errorf("merges.txt line %d: merged symbol %q is not in vocab.json", n+1, a+b)
		}
		// A repeated pair keeps its last rank, as Python's dict(zip(...)) does.
		ranks[pair{a, b}] = rank
		rank++
	}
	return ranks, nil
}

// readPadToken returns the pad token named by special_tokens_map.json, or ""
// when the file is absent.
func readPadToken(fsys fs.FS, dir string) (string, error) {
	raw, err := fs.ReadFile(fsys, path.Join(dir, "special_tokens_map.json"))
	if err != nil {
		return "", nil
	}
	var m struct {
		Pad json.RawMessage `json:"pad_token"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("special_tokens_map.json: %w", err)
	}
	if len(m.Pad) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(m.Pad, &s) == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(m.Pad, &obj); err != nil {
		return "", fmt.Errorf("special_tokens_map.json pad_token: %w", err)
	}
	return obj.Content, nil
}

// BOS returns the id of <|startoftext|> (49406 for CLIP).
func (t *Tokenizer) BOS() int { return t.v.bos }

// EOS returns the id of <|endoftext|> (49407 for CLIP).
func (t *Tokenizer) EOS() int { return t.v.eos }

// Pad returns the padding id (EOS for SD 1.x).
func (t *Tokenizer) Pad() int { return t.v.pad }

// VocabSize returns the number of ids: the base vocabulary plus added tokens
// (49408 for CLIP before any AddToken).
func (t *Tokenizer) VocabSize() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.v.decoder) + len(t.added)
}

// TokenID returns the id of a vocabulary string (e.g. "cat</w>") or of an
// added token.
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	if id, ok := t.v.encoder[tok]; ok {
		return id, true
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for i, a := range t.added {
		if a == tok {
			return len(t.v.decoder) + i, true
		}
	}
	return 0, false
}

// Token returns the vocabulary string of id (added tokens as given to AddToken).
func (t *Tokenizer) Token(id int) (string, bool) {
	if id >= 0 && id < len(t.v.decoder) {
		s := t.v.decoder[id]
		return s, s != ""
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	i := id - len(t.v.decoder)
	if i >= 0 && i < len(t.added) {
		return t.added[i], true
	}
	return "", false
}

// AddToken gives tok its own id, the next one after the vocabulary and the
// tokens added before (49408, 49409, ... for CLIP). Encode then matches tok
// as a whole unit wherever it occurs in a prompt, case-insensitively (prompts
// are lower-cased). Adding the same token again returns its id. Tokens that
// are empty after cleaning or already spelled in the base vocabulary are
// refused, since they could not be told apart from ordinary text.
func (t *Tokenizer) AddToken(tok string) (int, error) {
	key := clean(tok)
	if key == "" {
		return 0, fmt.Errorf("tokenizer: cannot add empty token %q", tok)
	}
	if _, ok := t.v.encoder[tok]; ok {
		return 0, fmt.Errorf("tokenizer: %q is already in the vocabulary", tok)
	}
	if _, ok := t.v.encoder[key]; ok {
		return 0, fmt.Errorf("tokenizer: %q is already in the vocabulary", key)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if id, ok := t.addedKey[key]; ok {
		if t.added[id-len(t.v.decoder)] != tok {
			return 0, fmt.Errorf("tokenizer: %q matches the same text as added token %q", tok, t.added[id-len(t.v.decoder)])
		}
		return id, nil
	}
	if t.addedKey == nil {
		t.addedKey = make(map[string]int)
	}
	id := len(t.v.decoder) + len(t.added)
	t.added = append(t.added, tok)
	t.addedKey[key] = id
	return id, nil
}

// Clone returns a Tokenizer with the same vocabulary (shared, not copied)
// and its own copy of the added tokens, so tokens added to one (a prompt's
// identifiers) do not reach the other.
func (t *Tokenizer) Clone() *Tokenizer {
	t.mu.RLock()
	defer t.mu.RUnlock()
	c := &Tokenizer{v: t.v, added: append([]string(nil), t.added...)}
	if t.addedKey != nil {
		c.addedKey = make(map[string]int, len(t.addedKey))
		for k, v := range t.addedKey {
			c.addedKey[k] = v
		}
	}
	return c
}

// AddedTokens returns the added tokens in id order.
func (t *Tokenizer) AddedTokens() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return append([]string(nil), t.added...)
}

// Encode returns the token ids of text without BOS/EOS: added tokens are
// matched first, the rest is cleaned, split by CLIP's pattern and BPE-merged.
func (t *Tokenizer) Encode(text string) []int {
	text = clean(text)
	ids := make([]int, 0, len(text)/3+2)
	t.mu.RLock()
	keys := t.sortedKeys()
	t.mu.RUnlock()
	for len(text) > 0 {
		pos, key, id := findAdded(text, keys)
		if pos < 0 {
			ids = t.encodePlain(ids, text)
			break
		}
		ids = t.encodePlain(ids, text[:pos])
		ids = append(ids, id)
		text = text[pos+len(key.text):]
	}
	return ids
}

type addedKey struct {
	text string
	id   int
}

// sortedKeys lists the added tokens longest first, so that at one position
// the longest token wins. Callers hold t.mu.
func (t *Tokenizer) sortedKeys() []addedKey {
	if len(t.addedKey) == 0 {
		return nil
	}
	keys := make([]addedKey, 0, len(t.addedKey))
	for k, id := range t.addedKey {
		keys = append(keys, addedKey{k, id})
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i].text) != len(keys[j].text) {
			return len(keys[i].text) > len(keys[j].text)
		}
		return keys[i].text < keys[j].text
	})
	return keys
}

// findAdded returns the leftmost occurrence of an added token in text.
func findAdded(text string, keys []addedKey) (int, addedKey, int) {
	best, bestKey := -1, addedKey{}
	for _, k := range keys {
		if p := strings.Index(text, k.text); p >= 0 && (best < 0 || p < best) {
			best, bestKey = p, k
		}
	}
	return best, bestKey, bestKey.id
}

func (t *Tokenizer) encodePlain(ids []int, text string) []int {
	splitWords(text, func(w string) {
		switch w {
		case StartOfText:
			ids = append(ids, t.v.bos)
			return
		case EndOfText:
			ids = append(ids, t.v.eos)
			return
		}
		for _, sym := range t.v.bpe(w) {
			id, ok := t.v.encoder[sym]
			if !ok {
				// Only reachable with a vocabulary that lacks a merge result;
				// CLIP's unknown token is <|endoftext|>.
				id = t.v.eos
			}
			ids = append(ids, id)
		}
	})
	return ids
}

// EncodePadded returns the fixed-length sequence a CLIP text encoder takes:
// BOS, the ids of text truncated to length-2, EOS, then Pad up to length
// (use SDLength, 77, for Stable Diffusion 1.x). Prompts longer than
// length-2 tokens are cut, as Stable Diffusion pipelines do.
func (t *Tokenizer) EncodePadded(text string, length int) ([]int, error) {
	ids, _, err := t.EncodePaddedTruncated(text, length)
	return ids, err
}

// EncodePaddedTruncated is EncodePadded that also reports whether the prompt
// was cut to fit.
func (t *Tokenizer) EncodePaddedTruncated(text string, length int) ([]int, bool, error) {
	if length < 2 {
		return nil, false, fmt.Errorf("tokenizer: sequence length %d leaves no room for BOS and EOS", length)
	}
	ids := t.Encode(text)
	truncated := len(ids) > length-2
	if truncated {
		ids = ids[:length-2]
	}
	out := make([]int, 0, length)
	out = append(out, t.v.bos)
	out = append(out, ids...)
	out = append(out, t.v.eos)
	for len(out) < length {
		out = append(out, t.v.pad)
	}
	return out, truncated, nil
}

// Decode turns ids back into text as CLIP does: vocabulary strings are
// joined, mapped back to bytes and "</w>" becomes a space (so the result
// usually ends with one). Added tokens appear as given to AddToken; unknown
// ids are skipped. Invalid UTF-8 becomes U+FFFD.
func (t *Tokenizer) Decode(ids []int) string {
	var out strings.Builder
	var run []byte
	flush := func() {
		s := strings.ToValidUTF8(string(run), "\uFFFD")
		out.WriteString(strings.ReplaceAll(s, endOfWord, " "))
		run = run[:0]
	}
	for _, id := range ids {
		if id >= 0 && id < len(t.v.decoder) {
			for _, r := range t.v.decoder[id] {
				if b, ok := runeToByte[r]; ok {
					run = append(run, b)
				} else {
					run = utf8.AppendRune(run, r)
				}
			}
			continue
		}
		if tok, ok := t.Token(id); ok {
			flush()
			out.WriteString(tok)
		}
	}
	flush()
	return out.String()
}
