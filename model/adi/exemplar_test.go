package adi

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// writePNG writes a w x h image: left half red, right half blue.
func writePNG(t testing.TB, path string, w, h int) {
	t.Helper()
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
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
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

func TestLoadExemplarsCaptions(t *testing.T) {
	dir := t.TempDir()
	writePNG(t, filepath.Join(dir, "01.png"), 30, 20)
	writePNG(t, filepath.Join(dir, "02.png"), 20, 30)
	writePNG(t, filepath.Join(dir, "03.png"), 10, 10)
	if err := os.WriteFile(filepath.Join(dir, "text.json"), []byte(`{"01": "a man {} on the beach", "2": "a girl in red <handstand>"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "03.txt"), []byte("a boy doing <A> in a gym\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ex, err := LoadExemplars([]string{dir}, "<handstand>", 32, FitCrop, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a man <handstand> on the beach", "a girl in red <handstand>", "a boy doing <handstand> in a gym"}
	if len(ex) != 3 {
		t.Fatalf("%d exemplars", len(ex))
	}
	for i, e := range ex {
		if got := e.Caption("<handstand>"); got != want[i] {
			t.Errorf("caption %d = %q, want %q", i, got, want[i])
		}
		if e.Image.Bounds().Dx() != 32 || e.Image.Bounds().Dy() != 32 {
			t.Errorf("image %d size %v", i, e.Image.Bounds())
		}
	}

	// Array form and default caption.
	dir2 := t.TempDir()
	writePNG(t, filepath.Join(dir2, "a.png"), 8, 8)
	writePNG(t, filepath.Join(dir2, "b.png"), 8, 8)
	if err := os.WriteFile(filepath.Join(dir2, "text.json"), []byte(`["a dog {}"]`), 0o644); err != nil {
		t.Fatal(err)
	}
	ex, err = LoadExemplars([]string{dir2}, "<x>", 8, FitPad, "")
	if err != nil {
		t.Fatal(err)
	}
	if ex[0].Caption("<x>") != "a dog <x>" || ex[1].Caption("<x>") != "a photo of a person <x>" {
		t.Errorf("captions %q %q", ex[0].Caption("<x>"), ex[1].Caption("<x>"))
	}
}

func TestLoadExemplarsErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadExemplars([]string{empty}, "<x>", 8, FitCrop, ""); !errors.Is(err, ErrNoImages) {
		t.Errorf("empty folder: %v", err)
	}
	bad := filepath.Join(empty, "broken.png")
	if err := os.WriteFile(bad, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadExemplars([]string{bad}, "<x>", 8, FitCrop, ""); err == nil {
		t.Errorf("broken image: no error")
	}
	if _, err := LoadExemplars([]string{filepath.Join(empty, "nope")}, "<x>", 8, FitCrop, ""); err == nil {
		t.Errorf("missing path: no error")
	}
}
