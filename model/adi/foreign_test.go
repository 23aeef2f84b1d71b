package adi

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kata/model/safetensors"
	"kata/model/sd"
)

// TestLayerWiseFileRefusedElsewhere checks Kata's layer-wise layout against
// the rules the other tools load a textual-inversion .safetensors file by
// (described in KeyLayerIndex's comment): AUTOMATIC1111 takes a tensor dict
// only with one key; diffusers takes one key, or "emb_params", or
// "string_to_param"; ComfyUI takes the first tensor in sorted key order and
// uses it only when its last dimension is the text width.
func TestLayerWiseFileRefusedElsewhere(t *testing.T) {
	const width = 8
	for _, m := range []Method{MethodADI, MethodPPlus} {
		p := filepath.Join(t.TempDir(), "x.safetensors")
		if err := Save(p, testIdentifier(t, m, 16, width)); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		names := f.Names()
		sorted := slices.Sorted(slices.Values(names))
		first, _ := f.Info(sorted[0])
		f.Close()
		if len(names) == 1 {
			t.Errorf("%s: AUTOMATIC1111 would load the one key %v", m, names)
		}
		if len(names) != 1 && (slices.Contains(names, KeyEmbParams) || slices.Contains(names, "string_to_param")) {
			t.Errorf("%s: diffusers would load %v", m, names)
		}
		if first.Shape[len(first.Shape)-1] == width {
			t.Errorf("%s: ComfyUI would load %s shaped %v", m, sorted[0], first.Shape)
		}
	}
}

// writeEmbedding writes an embedding as other tools publish them: AUTOMATIC1111
// and ComfyUI read {"emb_params": [N, D]} (N vectors per token); a flattened
// A1111 .pt dict has "string_to_param.*"; diffusers' learned_embeds.safetensors
// is {"<token>": [N, D]}. No Kata metadata.
func writeEmbedding(t *testing.T, path, key string, n, d int) []float32 {
	t.Helper()
	v := make([]float32, n*d)
	for i := range v {
		v[i] = float32(i) / 10
	}
	if err := safetensors.Write(path, []safetensors.Tensor{safetensors.F32Tensor(key, []int{n, d}, v)}, nil); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestLoadOtherPeoplesEmbeddings(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		file, key, trigger, word string
		n                        int
	}{
		{"easynegative.safetensors", KeyEmbParams, "<easynegative>", "easynegative", 8},
		{"bad-hands-5.safetensors", keyStringToParam, "<bad-hands-5>", "bad-hands-5", 2},
		{"learned_embeds.safetensors", "<cat-toy>", "<cat-toy>", "learned_embeds", 1},
		{"one.safetensors", KeyEmbParams, "<one>", "one", 1},
	} {
		p := filepath.Join(dir, c.file)
		v := writeEmbedding(t, p, c.key, c.n, 4)
		id, err := Load(p)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if id.Trigger != c.trigger || id.Word() != c.word || id.Tokens() != c.n || id.Method != MethodTI || !slices.Equal(id.Flat(), v) {
			t.Errorf("%s: trigger %s word %q tokens %d method %s", c.file, id.Trigger, id.Word(), id.Tokens(), id.Method)
		}
		// Kata's Save keeps the layout it loads: emb_params [N, D].
		out := filepath.Join(dir, "resaved-"+c.file)
		if err := Save(out, id); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := f.Info(KeyEmbParams)
		if names := f.Names(); !slices.Equal(names, []string{KeyEmbParams}) || !slices.Equal(info.Shape, []int{c.n, 4}) {
			t.Errorf("%s saved as %v %v", c.file, names, info.Shape)
		}
		f.Close()
	}
	// Kata's own files answer to their trigger only.
	own := filepath.Join(dir, "handstand.safetensors")
	if err := Save(own, testIdentifier(t, MethodTI, 1, 4)); err != nil {
		t.Fatal(err)
	}
	if id, err := Load(own); err != nil || id.Word() != "" {
		t.Errorf("Kata file: word %q, %v", id.Word(), err)
	}
}

// TestLoadPickleRefused writes the start of a torch.save zip archive (its
// first entry is archive/data.pkl) and checks the error names the format and
// the way out.
func TestLoadPickleRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "style.pt")
	if err := os.WriteFile(p, []byte("PK\x03\x04\x00\x00\x08\x08\x00\x00\x00\x00\x00\x00archive/data.pkl"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if !errors.Is(err, safetensors.ErrPickle) || !strings.Contains(err.Error(), "convert") || !strings.Contains(err.Error(), "style.safetensors") {
		t.Errorf("pickle: %v", err)
	}
}

func TestSingleVector(t *testing.T) {
	id := testIdentifier(t, MethodADI, 16, 8)
	sv, err := SingleVector(id)
	if err != nil {
		t.Fatal(err)
	}
	// testIdentifier adds the layer number to element 0: mean 7.5 more than
	// the shared initial value.
	if sv.Method != MethodTI || len(sv.Vectors) != 1 || sv.Vectors[0][0] != id.Vectors[0][0]+7.5 || sv.Vectors[0][1] != id.Vectors[0][1] {
		t.Errorf("single vector: method %s, %d vectors, %v", sv.Method, len(sv.Vectors), sv.Vectors[0][:2])
	}
	if sv.Trigger != id.Trigger || sv.BaseModelHash != id.BaseModelHash {
		t.Errorf("metadata lost: %+v", sv.Metadata)
	}
	p := filepath.Join(t.TempDir(), "handstand.safetensors")
	if err := ExportA1111(p, sv); err != nil {
		t.Fatal(err)
	}
	if id.Vectors[0][0] == sv.Vectors[0][0] {
		t.Errorf("SingleVector changed its input")
	}
}

func TestExpandAndUsed(t *testing.T) {
	dir := t.TempDir()
	writeEmbedding(t, filepath.Join(dir, "easyneg.safetensors"), KeyEmbParams, 3, 4)
	foreign, err := Load(filepath.Join(dir, "easyneg.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	own := testIdentifier(t, MethodADI, 16, 4)
	unused := testIdentifier(t, MethodTI, 1, 4)
	unused.Trigger = "<salute>"
	set, err := NewIdentifiers(own, foreign, unused)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"a panda <HandStand>, easyneg", "a panda <handstand>, <easyneg> <easyneg.2> <easyneg.3>"},
		{"(EasyNeg:1.2) easynegative easyneg_x <easyneg>", "(<easyneg> <easyneg.2> <easyneg.3>:1.2) easynegative easyneg_x <easyneg> <easyneg.2> <easyneg.3>"},
		{"a handstand", "a handstand"}, // Kata's own identifiers have no bare word
	} {
		if got := set.Expand(c.in); got != c.want {
			t.Errorf("Expand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	var names []string
	for _, id := range set.Used("a panda <handstand>\nEASYNEG") {
		names = append(names, id.Trigger)
	}
	if !slices.Equal(names, []string{"<handstand>", "<easyneg>"}) {
		t.Errorf("Used = %v", names)
	}
	var tokens []string
	for _, s := range set.SD() {
		tokens = append(tokens, s.Token)
	}
	if !slices.Equal(tokens, []string{"<handstand>", "<easyneg>", "<easyneg.2>", "<easyneg.3>", "<salute>"}) {
		t.Errorf("SD tokens %v", tokens)
	}
}

// TestGenerateWithMultiTokenEmbedding runs the fixture model with a 3-token
// embedding named by its bare file-name word, as AUTOMATIC1111 users write
// it, and checks the image differs from the same prompt with no embedding loaded
// (where style is a plain word).
func TestGenerateWithMultiTokenEmbedding(t *testing.T) {
	m, be := tiny(t)
	p := filepath.Join(t.TempDir(), "style.safetensors")
	writeEmbedding(t, p, KeyEmbParams, 3, m.Text.HiddenSize)
	set, _, err := LoadIdentifiers([]string{p}, m)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := sd.NewPipeline(be, m)
	if err != nil {
		t.Fatal(err)
	}
	gen := func(set *Identifiers) []byte {
		opts := sd.GenerateOptions{Prompt: "a cat, style", Steps: 2, CFG: 1, Seed: 3}
		if err := set.ApplyToGenerate(&opts); err != nil {
			t.Fatal(err)
		}
		res, err := pl.Generate(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		return res.Image.Pix
	}
	if bytes.Equal(gen(set), gen(nil)) {
		t.Errorf("the embedding changed nothing: the word style was not replaced")
	}
}
