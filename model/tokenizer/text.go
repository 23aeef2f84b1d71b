package tokenizer

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// clean normalises a prompt as CLIP's simple_tokenizer does before splitting:
// html.unescape applied twice, whitespace runs collapsed to one space and
// trimmed, then Python's str.lower(). (ftfy.fix_text is not reproduced; it is
// the identity on ordinary prompts.)
func clean(text string) string {
	text = strings.ToValidUTF8(text, "\uFFFD")
	text = html.UnescapeString(html.UnescapeString(text))
	text = collapseSpace(text)
	return pyLower(text)
}

// isPySpace is Python's str.isspace: Unicode White_Space plus the
// information separators U+001C..U+001F, which Python's re treats as \s.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for _, r := range s {
		if isPySpace(r) {
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pyLower reproduces Python 3's str.lower(): the simple lowercase mapping,
// except U+0130 (full mapping to "i" + U+0307) and capital sigma, which
// becomes final sigma U+03C2 at the end of a word (Unicode Final_Sigma).
func pyLower(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	runes := []rune(s)
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range runes {
		switch r {
		case 0x130:
			b.WriteString("i\u0307")
		case 0x3a3:
			if finalSigma(runes, i) {
				b.WriteRune(0x3c2)
			} else {
				b.WriteRune(0x3c3)
			}
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// finalSigma implements the Final_Sigma condition as CPython does: a cased
// letter before (skipping case-ignorables) and no cased letter after.
func finalSigma(runes []rune, i int) bool {
	j := i - 1
	for j >= 0 && caseIgnorable(runes[j]) {
		j--
	}
	if j < 0 || !cased(runes[j]) {
		return false
	}
	j = i + 1
	for j < len(runes) && caseIgnorable(runes[j]) {
		j++
	}
	return j == len(runes) || !cased(runes[j])
}

func cased(r rune) bool {
	return unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.Is(unicode.Other_Lowercase, r) || unicode.Is(unicode.Other_Uppercase, r)
}

// caseIgnorable is Unicode's Case_Ignorable: marks, format characters,
// modifier letters and symbols, and the word-internal punctuation of
// Word_Break MidLetter, MidNumLet and Single_Quote.
func caseIgnorable(r rune) bool {
	switch r {
	case '\'', '.', ':', 0xb7, 0x387, 0x55f, 0x5f4, 0x2018, 0x2019, 0x2024, 0x2027,
		0xfe13, 0xfe52, 0xfe55, 0xff07, 0xff0e, 0xff1a:
		return true
	}
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

// contractions are the English clitics CLIP's pattern splits off, in the
// pattern's order.
var contractions = [...]string{"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}

var specialWords = [...]string{"<|startoftext|>", "<|endoftext|>"}

// splitWords applies CLIP's pre-tokenisation pattern
//
//	<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//
// (case-insensitive) to cleaned text, calling emit for each match in order.
// Alternatives are tried in pattern order at each position, as a
// backtracking regex engine does; whitespace between matches is skipped.
func splitWords(s string, emit func(word string)) {
	i := 0
	for i < len(s) {
		if w := matchFixed(s[i:]); w > 0 {
			emit(s[i : i+w])
			i += w
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsLetter(r):
			j := i + size
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsLetter(r2) {
					break
				}
				j += n
			}
			emit(s[i:j])
			i = j
		case unicode.IsNumber(r):
			emit(s[i : i+size])
			i += size
		case isPySpace(r):
			i += size
		default:
			j := i + size
			for j < len(s) {
				r2, n := utf8.DecodeRuneInString(s[j:])
				if unicode.IsLetter(r2) || unicode.IsNumber(r2) || isPySpace(r2) {
					break
				}
				j += n
			}
			emit(s[i:j])
			i = j
		}
	}
}

// matchFixed returns the byte length of a special token or contraction at
// the start of s (compared case-insensitively by simple folding, as the
// IGNORECASE pattern does), or 0.
func matchFixed(s string) int {
	if s == "" || (s[0] != '<' && s[0] != '\'') {
		return 0
	}
	for _, w := range specialWords {
		if n := foldPrefix(s, w); n > 0 {
			return n
		}
	}
	for _, w := range contractions {
		if n := foldPrefix(s, w); n > 0 {
			return n
		}
	}
	return 0
}

// foldPrefix reports the byte length of the prefix of s that equals w under
// simple case folding, rune by rune, or 0 if there is none.
func foldPrefix(s, w string) int {
	n := 0
	for _, wr := range w {
		if n >= len(s) {
			return 0
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if r != wr && !strings.EqualFold(string(r), string(wr)) {
			return 0
		}
		n += size
	}
	return n
}
