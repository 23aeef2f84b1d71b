package world

import (
	"bytes"
	"encoding/json"
	"image"
	"image/draw"
	"image/png"
	"io/fs"
	"path"
	"strings"
	"testing"

	"kata/assets"
)

// TestSamplesMatchRenderer: the exemplar sets shipped in assets are what
// ExemplarSet and Render give today (regenerate them with
// `CGO_ENABLED=0 go run assets/gen_samples.go` after a renderer change).
func TestSamplesMatchRenderer(t *testing.T) {
	for _, action := range assets.SampleActions {
		set, err := ExemplarSet(action, assets.SampleSeed, 0)
		if err != nil {
			t.Fatal(err)
		}
		dir := path.Join("samples", action)
		ents, err := fs.ReadDir(assets.Samples, dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 2*len(set)+1 {
			t.Fatalf("%s: %d files, want %d", dir, len(ents), 2*len(set)+1)
		}
		data, err := fs.ReadFile(assets.Samples, path.Join(dir, "text.json"))
		if err != nil {
			t.Fatal(err)
		}
		var templates map[string][]string
		if err := json.Unmarshal(data, &templates); err != nil {
			t.Fatalf("%s/text.json: %v", dir, err)
		}
		for _, e := range set {
			if l := templates[e.Name]; len(l) != 1 || l[0] != e.Template {
				t.Errorf("%s/text.json[%s] = %q, want [%q]", dir, e.Name, l, e.Template)
			}
			txt, err := fs.ReadFile(assets.Samples, path.Join(dir, e.TextName()))
			if err != nil || strings.TrimSpace(string(txt)) != e.Caption {
				t.Errorf("%s/%s = %q (%v), want %q", dir, e.TextName(), txt, err, e.Caption)
			}
			raw, err := fs.ReadFile(assets.Samples, path.Join(dir, e.Name))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s/%s: %v", dir, e.Name, err)
			}
			got := image.NewNRGBA(img.Bounds())
			draw.Draw(got, got.Bounds(), img, image.Point{}, draw.Src)
			if want := Render(e.Scene, assets.SampleSize); !bytes.Equal(got.Pix, want.Pix) {
				t.Errorf("%s/%s is not the render of its scene: regenerate the samples", dir, e.Name)
			}
		}
	}
}
