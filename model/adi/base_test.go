package adi

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/sd"
)

func TestLoadIdentifiersForModel(t *testing.T) {
	m, be := tiny(t)
	dir := t.TempDir()
	good := testIdentifier(t, MethodADI, 16, m.Text.HiddenSize)
	good.BaseModelHash = m.SHA256
	other := testIdentifier(t, MethodTI, 1, m.Text.HiddenSize)
	other.Trigger = "<salute>"
	narrow := testIdentifier(t, MethodTI, 1, 8)
	narrow.Trigger = "<narrow>"
	paths := map[string]*Identifier{"good": good, "other": other, "narrow": narrow}
	for n, id := range paths {
		if err := Save(filepath.Join(dir, n+".safetensors"), id); err != nil {
			t.Fatal(err)
		}
	}
	p := func(n string) string { return filepath.Join(dir, n+".safetensors") }
	set, warns, err := LoadIdentifiers([]string{p("good"), p("other")}, m)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 || len(warns) != 1 || !strings.Contains(warns[0], "<salute>") {
		t.Errorf("set of %d, warnings %q", set.Len(), warns)
	}
	if _, _, err := LoadIdentifiers([]string{p("narrow")}, m); err == nil || !strings.Contains(err.Error(), "text width 8") {
		t.Errorf("identifier for another width: %v", err)
	}

	opts := sd.GenerateOptions{Prompt: "a panda <HandStand> next to a robot <salute>", Steps: 2, CFG: 2, Seed: 1}
	if err := set.ApplyToGenerate(&opts); err != nil {
		t.Fatal(err)
	}
	if opts.Prompt != "a panda <handstand> next to a robot <salute>" {
		t.Errorf("prompt after ApplyToGenerate: %q", opts.Prompt)
	}
	if len(opts.Identifiers) != 2 || opts.Identifiers[0].Token != "<handstand>" || len(opts.Identifiers[0].Vectors) != 16 {
		t.Errorf("generate identifiers %+v", opts.Identifiers)
	}
	bad := sd.GenerateOptions{Prompt: "a cat <pray>"}
	if err := set.ApplyToGenerate(&bad); err == nil || !strings.Contains(err.Error(), "<pray>") {
		t.Errorf("unknown placeholder: %v", err)
	}
	pl, err := sd.NewPipeline(be, m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pl.Generate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.Bounds().Dx() != 64 {
		t.Errorf("image %v", res.Image.Bounds())
	}
}

// TestTrainWithPipeline runs ADI with real image-to-image negatives and
// previews from sd.Pipeline (2 sampler steps to keep it quick).
func TestTrainWithPipeline(t *testing.T) {
	m, be := tiny(t)
	base, err := NewBase(be, m, BaseOptions{Img2ImgSteps: 4, PreviewSteps: 2})
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(t.TempDir(), "contrast")
	var previews, prepared int
	id, err := Train(context.Background(), base, testExemplars(2), Options{Name: "cheer", Steps: 2, PreviewEvery: 1,
		Contrast: ContrastOptions{PerExemplar: 1, CacheDir: cache}}, func(e Event) {
		switch e.Kind {
		case EventPreview:
			if e.Preview == nil || e.Preview.Bounds().Dx() != 64 {
				t.Errorf("preview %v", e.Preview)
			}
			previews++
		case EventPrepare:
			if e.Message == "synthesising contrast images" {
				prepared++
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if previews != 2 || prepared != 2 || id.Method != MethodADI {
		t.Errorf("previews %d, contrast images %d, method %s", previews, prepared, id.Method)
	}
	cached, _ := filepath.Glob(filepath.Join(cache, "*.png"))
	if len(cached) != 2 {
		t.Errorf("%d cached contrast images in the cache folder", len(cached))
	}
}
