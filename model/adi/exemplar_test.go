package adi

import (
	"errors"
	"image"
	"image/color"
	"strings"
	"testing"

	"kata/model/placeholder"
)

// testImage is a w x h image: left half red, right half blue.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{255, 0, 0, 255}
			if x >= w/2 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

func TestFitAndTensor(t *testing.T) {
	src := image.NewNRGBA(image.Rect(0, 0, 40, 20))
	for x := range 40 {
		for y := range 20 {
			src.SetNRGBA(x, y, color.NRGBA{uint8(x * 6), 0, 0, 255})
		}
	}
	crop, err := FitImage(src, 16, FitCrop)
	if err != nil {
		t.Fatal(err)
	}
	pad, err := FitImage(src, 16, FitPad)
	if err != nil {
		t.Fatal(err)
	}
	if crop.Bounds().Dx() != 16 || crop.Bounds().Dy() != 16 || pad.Bounds().Dx() != 16 || pad.Bounds().Dy() != 16 {
		t.Fatalf("sizes %v %v", crop.Bounds(), pad.Bounds())
	}
	// Padding: the 2:1 image becomes 16x8 in the middle, grey above and below.
	if c := pad.NRGBAAt(8, 0); c != (color.NRGBA{128, 128, 128, 255}) {
		t.Errorf("pad top pixel %v, want grey", c)
	}
	if c := pad.NRGBAAt(8, 8); c.G != 0 || c.R == 128 {
		t.Errorf("pad middle pixel %v, want image content", c)
	}
	// Cropping keeps the centre: the leftmost column is no longer x=0 (red 0).
	if c := crop.NRGBAAt(0, 8); c.R < 40 {
		t.Errorf("crop left pixel %v: the centre was not kept", c)
	}
	x := ImageCHW(crop, false)
	xf := ImageCHW(crop, true)
	if len(x) != 3*16*16 {
		t.Fatalf("tensor length %d", len(x))
	}
	for y := range 16 {
		for c := range 16 {
			if x[y*16+c] != xf[y*16+15-c] {
				t.Fatalf("flip mismatch at %d,%d", y, c)
			}
		}
	}
	if x[16*16] != -1 { // green channel is 0 -> -1
		t.Errorf("green %v, want -1", x[16*16])
	}
	if _, err := FitImage(src, 16, "stretch"); err == nil {
		t.Errorf("unknown mode: no error")
	}
}

func TestFitExemplars(t *testing.T) {
	for _, tc := range []struct {
		template, defaultTemplate, want string
	}{
		{"a man {} on the beach", "", "a man <handstand> on the beach"},
		{"a girl in red <handstand>", "", "a girl in red <handstand>"},
		{"a boy doing <A> in a gym", "", "a boy doing <handstand> in a gym"},
		{"a man on a beach", "", "a man on a beach <handstand>"},
		{"", "", "a photo of a person <handstand>"},
		{"  ", "a dog {}", "a dog <handstand>"},
		{"", "a cat", "a cat <handstand>"},
	} {
		ex, err := fitExemplars([]Exemplar{{Image: testImage(30, 20), Template: tc.template}}, "<handstand>", 32, FitCrop, tc.defaultTemplate)
		if err != nil {
			t.Fatal(err)
		}
		if got := placeholder.Fill(ex[0].template, "<handstand>"); got != tc.want {
			t.Errorf("template %q (default %q): caption %q, want %q", tc.template, tc.defaultTemplate, got, tc.want)
		}
		if b := ex[0].image.Bounds(); b.Dx() != 32 || b.Dy() != 32 || ex[0].name != "exemplar 1" {
			t.Errorf("fitted %v, name %q", b, ex[0].name)
		}
	}
	// The hash names the pixels: equal for equal pictures, else different.
	ex, err := fitExemplars([]Exemplar{{Image: testImage(30, 20)}, {Image: testImage(30, 20)}, {Image: testImage(20, 30)}}, "<x>", 16, FitPad, "")
	if err != nil {
		t.Fatal(err)
	}
	if ex[0].hash != ex[1].hash || ex[0].hash == ex[2].hash || len(ex[0].hash) != 64 {
		t.Errorf("hashes %q %q %q", ex[0].hash, ex[1].hash, ex[2].hash)
	}
}

func TestFitExemplarsErrors(t *testing.T) {
	if _, err := fitExemplars(nil, "<x>", 8, FitCrop, ""); !errors.Is(err, ErrNoImages) {
		t.Errorf("no exemplars: %v", err)
	}
	if _, err := fitExemplars([]Exemplar{{Name: "01.png"}}, "<x>", 8, FitCrop, ""); err == nil || !strings.Contains(err.Error(), "01.png") {
		t.Errorf("missing picture: %v", err)
	}
	if _, err := fitExemplars([]Exemplar{{Image: image.NewNRGBA(image.Rect(0, 0, 0, 0))}}, "<x>", 8, FitCrop, ""); err == nil {
		t.Errorf("empty picture: no error")
	}
}
