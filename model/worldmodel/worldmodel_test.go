package worldmodel

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"kata/model/sd"
	"kata/model/sdtrain"
)

func TestArchitectureIsSD1Topology(t *testing.T) {
	a := Architecture()
	if n := a.UNet.NumCrossAttentionLayers(); n != 16 {
		t.Fatalf("%d cross-attention layers, want 16", n)
	}
	if a.Text.VocabSize != 49408 || a.Text.MaxPositionEmbeddings != 77 || a.UNet.CrossAttentionDim != a.Text.HiddenSize {
		t.Fatalf("text encoder %+v does not fit the CLIP tokenizer and the UNet", a.Text)
	}
	if a.ImageSize() != ImageSize {
		t.Fatalf("native size %d, want %d", a.ImageSize(), ImageSize)
	}
	vars, err := sd.ModelVariables(a.Text, a.UNet, a.VAE)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, dims := range vars {
		size := 1
		for _, d := range dims {
			size *= d
		}
		n += size
	}
	if mb := float64(2*n) / 1e6; mb > 40 {
		t.Fatalf("%d parameters: %.1f MB in f16, over the 40 MB budget", n, mb)
	}
	for _, s := range []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet} {
		if o := Recipe(s); o.Steps < 1 || o.Batch < 1 || o.LR <= 0 {
			t.Fatalf("recipe of %s: %+v", s, o)
		}
	}
}

func TestSourceIsSeeded(t *testing.T) {
	draw := func(seed uint64) []sdtrain.Sample {
		rng := rand.New(rand.NewPCG(seed, 0))
		var out []sdtrain.Sample
		for range 4 {
			s, err := Source{}.Draw(rng, ImageSize)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	a, b, c := draw(1), draw(1), draw(2)
	for i := range a {
		if a[i].Caption != b[i].Caption || !bytes.Equal(a[i].Image.Pix, b[i].Image.Pix) {
			t.Fatalf("sample %d differs between two draws of one seed", i)
		}
	}
	same := 0
	for i := range a {
		if a[i].Caption == c[i].Caption {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("two seeds drew the same captions")
	}
	if _, err := (Source{}).Draw(rand.New(rand.NewPCG(1, 0)), 4); err == nil {
		t.Fatal("drew a 4 px image")
	}
}
