package app

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/sd/sdtest"
	"kata/store"
	"kata/store/contenthash"
)

// TestGenerateTriggerInLaterChunk: a learned trigger in a later prompt chunk
// (after BREAK, or past the first 75 tokens) takes effect, and the PNG lists
// it. Taking effect is checked twice: the image differs from the one with the
// plain word in its place, and from the one with the same trigger bound to
// other vectors (so the vectors, not only the removed word, change it).
// Generation has no chunk limit left (model/prompt.SplitChunks makes as many
// 75-token chunks as the prompt needs), so no case is refused here; the one
// limit that remains, a training caption's 75 tokens, is an error of
// training (model/adi captionSlots), not of generation.
func TestGenerateTriggerInLaterChunk(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	dir := t.TempDir()
	save := func(name string, value float32) string {
		id, err := adi.NewIdentifier("handstand", adi.MethodPPlus, 16, make([]float32, 32))
		if err != nil {
			t.Fatal(err)
		}
		for l := range id.Vectors {
			id.Vectors[l][l%32] = value
		}
		p := filepath.Join(dir, name+".safetensors")
		if err := adi.Save(p, id); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ident, other := save("a", 2), save("b", -3)
	h, err := contenthash.File(ident)
	if err != nil {
		t.Fatal(err)
	}
	label := "handstand:" + h[:12]
	long := strings.Repeat("a photo of a panda in a park, ", 16) // over 100 tokens
	base := []string{"generate", "--model", sdtest.TinyDir(), "--steps", "2", "--seed", "5"}
	gen := func(t *testing.T, name, prompt string, identifiers ...string) []byte {
		t.Helper()
		out := filepath.Join(dir, name+".png")
		args := append(append([]string{}, base...), "--prompt", prompt, "--out", out)
		for _, id := range identifiers {
			args = append(args, "--identifier", id)
		}
		if code, _, stderr := runMain(args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		pix, err := imageBytes(out)
		if err != nil {
			t.Fatal(err)
		}
		return pix
	}
	for _, tc := range []struct {
		name, prompt string
	}{
		{"after BREAK", "a panda in a park BREAK a robot doing a <handstand>"},
		{"past 75 tokens", long + "a robot doing a <handstand>"},
		{"past 75 tokens after BREAK", long + "BREAK a robot BREAK a <handstand>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			slug := strings.ReplaceAll(tc.name, " ", "-")
			with := gen(t, slug+"-with", tc.prompt, ident)
			word := gen(t, slug+"-word", strings.ReplaceAll(tc.prompt, "<handstand>", "handstand"))
			others := gen(t, slug+"-other", tc.prompt, other)
			if bytes.Equal(with, word) {
				t.Error("the image is the plain word's: the trigger did not take effect")
			}
			if bytes.Equal(with, others) {
				t.Error("other vectors give the same image: the trigger's encodings did not take effect")
			}
			s, err := store.ReadSettings(filepath.Join(dir, slug+"-with.png"))
			if err != nil || strings.Join(s.Identifiers, ",") != label {
				t.Errorf("identifiers in the PNG: %v, want [%s] (%v)", s.Identifiers, label, err)
			}
			if s.Prompt != tc.prompt {
				t.Errorf("prompt in the PNG %q, want %q", s.Prompt, tc.prompt)
			}
		})
	}
}
