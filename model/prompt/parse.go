package prompt

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// Multipliers of AUTOMATIC1111's emphasis brackets: "(x)" multiplies the
// weight of x by RoundMultiplier, "[x]" by SquareMultiplier = 1/1.1.
const (
	RoundMultiplier  = 1.1
	SquareMultiplier = 1 / 1.1
)

// MaxWeight bounds the magnitude of a span's final weight: past it the
// emphasised encodings leave float32's useful range (and no prompt means
// it), so Parse refuses the prompt instead of drawing a black image.
const MaxWeight = 100

// Span is a run of prompt text with one attention weight. A Span with
// Break set stands for the BREAK keyword (Text "BREAK", Weight -1, as
// AUTOMATIC1111 marks it): the tokens after it start a new 75-token chunk.
type Span struct {
	Text   string
	Weight float64
	Break  bool
}

// attentionToken is AUTOMATIC1111's tokenisation of the attention syntax:
// escapes, opening brackets, ":weight)" closers, plain closers, runs of
// plain text, and a lone colon.
var attentionToken = regexp.MustCompile(`\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()\[\]:]+|:`)

// breakWord is the BREAK keyword with the white space around it.
var breakWord = regexp.MustCompile(`\s*\bBREAK\b\s*`)

// Parse splits text into weighted spans as AUTOMATIC1111's
// parse_prompt_attention does: "(a)" multiplies the weight of a by 1.1,
// "[a]" divides it by 1.1, "(a:w)" multiplies it by w; brackets nest and
// multiply; an unclosed bracket applies to the rest of the prompt; a closer
// without an opener, and a backslash-escaped bracket, are literal text.
// Neighbouring spans of equal weight are merged, and an empty prompt gives
// one empty span of weight 1. The errors are a ":w)" whose w is not a
// number (such as "1.2.3") and a span whose final weight is not finite or
// exceeds MaxWeight in magnitude ("(x:1000000000000000000000)", sixty nested brackets).
func Parse(text string) ([]Span, error) {
	var res []Span
	var round, square []int
	multiply := func(from int, m float64) {
		for i := from; i < len(res); i++ {
			res[i].Weight *= m
		}
	}
	for _, m := range attentionToken.FindAllStringSubmatchIndex(text, -1) {
		tok := text[m[0]:m[1]]
		hasWeight := m[2] >= 0
		switch {
		case tok[0] == '\\':
			res = append(res, Span{Text: tok[1:], Weight: 1})
		case tok == "(":
			round = append(round, len(res))
		case tok == "[":
			square = append(square, len(res))
		case hasWeight && len(round) > 0:
			w, err := strconv.ParseFloat(text[m[2]:m[3]], 64)
			if err != nil {
				return nil, fmt.Errorf("prompt: attention weight %q is not a number", text[m[2]:m[3]])
			}
			multiply(round[len(round)-1], w)
			round = round[:len(round)-1]
		case tok == ")" && len(round) > 0:
			multiply(round[len(round)-1], RoundMultiplier)
			round = round[:len(round)-1]
		case tok == "]" && len(square) > 0:
			multiply(square[len(square)-1], SquareMultiplier)
			square = square[:len(square)-1]
		default:
			for i, part := range splitBreak(tok) {
				if i > 0 {
					res = append(res, Span{Text: "BREAK", Weight: -1, Break: true})
				}
				res = append(res, Span{Text: part, Weight: 1})
			}
		}
	}
	for _, pos := range round {
		multiply(pos, RoundMultiplier)
	}
	for _, pos := range square {
		multiply(pos, SquareMultiplier)
	}
	if len(res) == 0 {
		return []Span{{Text: "", Weight: 1}}, nil
	}
	for _, sp := range res {
		if !sp.Break && !(math.Abs(sp.Weight) <= MaxWeight) {
			return nil, fmt.Errorf("prompt: attention weight %g of %q is beyond ±%d", sp.Weight, sp.Text, MaxWeight)
		}
	}
	merged := res[:1]
	for _, s := range res[1:] {
		last := &merged[len(merged)-1]
		if s.Weight == last.Weight && s.Break == last.Break && !s.Break {
			last.Text += s.Text
			continue
		}
		merged = append(merged, s)
	}
	return merged, nil
}

// splitBreak is re.split of the BREAK keyword: the parts between BREAKs
// (possibly empty).
func splitBreak(s string) []string {
	locs := breakWord.FindAllStringIndex(s, -1)
	if locs == nil {
		return []string{s}
	}
	parts := make([]string, 0, len(locs)+1)
	prev := 0
	for _, l := range locs {
		parts = append(parts, s[prev:l[0]])
		prev = l[1]
	}
	return append(parts, s[prev:])
}
