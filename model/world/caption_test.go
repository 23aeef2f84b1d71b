package world

import (
	"math/rand/v2"
	"strings"
	"testing"

	"kata/model/tokenizer"
)

// benchmarkStems are the word beginnings that would name a benchmark action.
var benchmarkStems = []string{"cheer", "gestur", "handstand", "meditat", "pray", "salut", "sit", "squat"}

func namesBenchmark(caption string) string {
	for _, w := range strings.FieldsFunc(caption, func(r rune) bool { return r == ' ' || r == ',' }) {
		for _, s := range benchmarkStems {
			if strings.HasPrefix(w, s) {
				return w
			}
		}
	}
	return ""
}

func TestCaptionNamesOnlyCommonActions(t *testing.T) {
	if len(benchmarkStems) != len(BenchmarkActions) {
		t.Fatalf("stems %v do not cover %v", benchmarkStems, BenchmarkActions)
	}
	for i, a := range BenchmarkActions {
		if v := verbs[a]; namesBenchmark(v) == "" {
			t.Fatalf("stem %q misses the phrase %q of %s", benchmarkStems[i], v, a)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		s := RandomScene(rng)
		c := Caption(s, rng)
		if w := namesBenchmark(c); w != "" {
			t.Fatalf("caption %q of a %s names %q", c, s.Action, w)
		}
		if strings.ContainsAny(c, "{}") {
			t.Fatalf("caption %q has an unfilled slot", c)
		}
		if !strings.Contains(c, Subject(s)) {
			t.Fatalf("caption %q lacks the subject %q", c, Subject(s))
		}
		if !strings.Contains(c, s.BackColor) {
			t.Fatalf("caption %q lacks the background tint %q", c, s.BackColor)
		}
		if s.Prop != "" && !strings.Contains(c, s.Prop) {
			t.Fatalf("caption %q lacks the prop %q", c, s.Prop)
		}
		v := verbs[s.Action]
		if IsBenchmark(s.Action) == strings.Contains(c, v) {
			t.Fatalf("caption %q of a %s: names %q: %v", c, s.Action, v, strings.Contains(c, v))
		}
		tpl := Template(s, rng)
		if strings.Count(tpl, "{}") != 1 || namesBenchmark(tpl) != "" {
			t.Fatalf("template %q: want one {} slot and no action", tpl)
		}
	}
}

func TestCaptionVariety(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	s := Scene{Kind: "cat", Color: "orange", Action: "wave", Background: "dotted", BackColor: "lavender"}
	seen := map[string]bool{}
	for range 200 {
		seen[Caption(s, rng)] = true
	}
	if len(seen) < 10 {
		t.Fatalf("200 captions of one scene: only %d different: %v", len(seen), seen)
	}
	if c := Subject(s); c != "an orange cat" {
		t.Fatalf("Subject: %q", c)
	}
}

// TestCaptionsFitCLIP: every template filled with the longest wording of
// every slot fits CLIP's 77 tokens with the real tokenizer.
func TestCaptionsFitCLIP(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	longest := func(list []string) string {
		l := ""
		for _, s := range list {
			if len(s) > len(l) {
				l = s
			}
		}
		return l
	}
	subject := Subject(Scene{Kind: longest(Kinds), Color: longest(Colors), Shirt: longest(Colors), Trousers: longest(Colors)})
	action := ""
	for _, v := range verbs {
		action = longest([]string{action, v})
	}
	worst := 0
	for _, tpl := range captionTemplates {
		for _, ph := range backgroundPhrases {
			tint := longest(BackColors)
			b := strings.ReplaceAll(longest(ph[0]), "{t}", tint)
			w := strings.ReplaceAll(longest(ph[1]), "{t}", tint)
			p := strings.ReplaceAll(longest(propPhrases), "{x}", longest(Props))
			c := strings.NewReplacer("{s}", subject, "{a}", action, "{b}", b, "{w}", w, "{p}", p).Replace(tpl)
			_, truncated, err := tok.EncodePaddedTruncated(c, 77)
			if err != nil || truncated {
				t.Fatalf("caption %q: %d tokens, truncated %v, err %v", c, len(tok.Encode(c)), truncated, err)
			}
			worst = max(worst, len(tok.Encode(c)))
		}
	}
	t.Logf("longest caption: %d tokens of 77", worst)
}
