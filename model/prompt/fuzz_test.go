package prompt

import (
	"math"
	"testing"
)

// FuzzParse feeds arbitrary prompts through the prompt syntax (networks,
// emphasis): no panic, and every span weight is finite when Parse succeeds.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"a (photo:1.2) of [a] cat", "((((((x", "))]]\\(", "<lora:x:0.5> BREAK y",
		"(a:1e39)", "(a:nan)", "(a:-inf)", "\x1b[31m\n\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rest, _ := ExtractNetworks(text)
		spans, err := Parse(rest)
		if err != nil {
			return
		}
		if len(spans) == 0 {
			t.Fatalf("%q: no spans", text)
		}
		for _, s := range spans {
			if math.IsNaN(s.Weight) || math.IsInf(s.Weight, 0) {
				t.Fatalf("%q: span %q has weight %g", text, s.Text, s.Weight)
			}
		}
	})
}
