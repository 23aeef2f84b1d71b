package prompt

import (
	"math"
	"strings"
	"testing"
)

// The cases of AUTOMATIC1111's parse_prompt_attention doctest
// (modules/prompt_parser.py) and of its wiki page "Features >
// Attention/emphasis", plus BREAK and edge cases.
func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want []Span
	}{
		// doctest
		{"normal text", []Span{{"normal text", 1, false}}},
		{"an (important) word", []Span{{"an ", 1, false}, {"important", 1.1, false}, {" word", 1, false}}},
		{"(unbalanced", []Span{{"unbalanced", 1.1, false}}},
		{`\(literal\]`, []Span{{"(literal]", 1, false}}},
		{"(unnecessary)(parens)", []Span{{"unnecessaryparens", 1.1, false}}},
		{"a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).", []Span{
			{"a ", 1, false}, {"house", 1.5730000000000004, false}, {" ", 1.1, false}, {"on", 1, false},
			{" a ", 1.1, false}, {"hill", 0.55, false}, {", sun, ", 1.1, false},
			{"sky", 1.4641000000000006, false}, {".", 1.1, false}}},
		// wiki: (word) 1.1, ((word)) 1.21, [word] 1/1.1, (word:1.5), (word:0.25), \(word\)
		{"a (word)", []Span{{"a ", 1, false}, {"word", 1.1, false}}},
		{"a ((word))", []Span{{"a ", 1, false}, {"word", 1.1 * 1.1, false}}},
		{"a [word]", []Span{{"a ", 1, false}, {"word", 1 / 1.1, false}}},
		{"a (word:1.5)", []Span{{"a ", 1, false}, {"word", 1.5, false}}},
		{"a (word:0.25)", []Span{{"a ", 1, false}, {"word", 0.25, false}}},
		{`a \(word\)`, []Span{{"a (word)", 1, false}}},
		// A weight only works with round brackets; spaces around it are allowed.
		{"[word:1.5]", []Span{{"word:1.5", 1 / 1.1, false}}},
		{"(masterpiece: 1.2 ), cat", []Span{{"masterpiece", 1.2, false}, {", cat", 1, false}}},
		// closers without openers are text; a lone backslash is dropped
		{"a) b]", []Span{{"a) b]", 1, false}}},
		{`a\b`, []Span{{"ab", 1, false}}},
		{`\\`, []Span{{`\`, 1, false}}},
		// BREAK splits, eating the spaces around it; only the whole word
		{"a cat BREAK a dog", []Span{{"a cat", 1, false}, {"BREAK", -1, true}, {"a dog", 1, false}}},
		{"(red BREAK blue)", []Span{{"red", 1.1, false}, {"BREAK", -1.1, true}, {"blue", 1.1, false}}},
		{"BREAKFAST", []Span{{"BREAKFAST", 1, false}}},
		{"", []Span{{"", 1, false}}},
		{"()", []Span{{"", 1, false}}},
		// learned-identifier triggers are plain text, weighted like any word
		{"a panda (<handstand>:1.2)", []Span{{"a panda ", 1, false}, {"<handstand>", 1.2, false}}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("%q: %v, want %v", c.in, got, c.want)
			continue
		}
		for i := range got {
			g, w := got[i], c.want[i]
			if g.Text != w.Text || g.Break != w.Break || math.Abs(g.Weight-w.Weight) > 1e-12 {
				t.Errorf("%q: span %d = %+v, want %+v (all %v)", c.in, i, g, w, got)
			}
		}
	}
}

func TestParseBadWeight(t *testing.T) {
	if _, err := Parse("(cat:1.2.3)"); err == nil {
		t.Error("weight 1.2.3 accepted")
	}
	// Without an opener the weight closer is plain text.
	got, err := Parse("cat:1.2.3)")
	if err != nil || len(got) != 1 || got[0].Text != "cat:1.2.3)" {
		t.Errorf("unopened weight: %v %v", got, err)
	}
}

func TestParseWeightBounds(t *testing.T) {
	deep := strings.Repeat("(", 60) + "cat" + strings.Repeat(")", 60) // 1.1^60 = 304
	tests := []struct {
		prompt string
		ok     bool
	}{
		{"(cat:100)", true},
		{"(cat:-100)", true},
		{"(cat:100.5)", false},
		{"(cat:1" + strings.Repeat("0", 39) + ")", false}, // 1e39: +Inf in float32
		{"(cat:-1" + strings.Repeat("0", 39) + ")", false},
		{deep, false},
		{strings.Repeat("(", 40) + "cat" + strings.Repeat(")", 40), true}, // 1.1^40 = 45
	}
	for _, tc := range tests {
		_, err := Parse(tc.prompt)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%.30q): err %v, want ok=%v", tc.prompt, err, tc.ok)
		}
	}
}
