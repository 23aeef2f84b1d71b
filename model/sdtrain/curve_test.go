package sdtrain

import (
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteLossCurve: the PNG has the curve's size, the moving average in
// blue, and ink in the title's place; an empty run still draws the axes,
// and a missing folder is an error.
func TestWriteLossCurve(t *testing.T) {
	var falling []float32
	for i := range 500 {
		falling = append(falling, float32(math.Exp(-float64(i)/100)))
	}
	tests := []struct {
		name     string
		losses   []float32
		wantBlue bool
	}{
		{"falling", falling, true},
		{"one step", []float32{0.3}, false},
		{"none", nil, false},
		{"non-positive skipped", []float32{0, -1, 0.5, 0.4}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "loss.png")
			if err := WriteLossCurve(path, "vae stage loss", tc.losses); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != curveW || b.Dy() != curveH {
				t.Fatalf("curve is %v, want %dx%d", b, curveW, curveH)
			}
			blue, titleInk := false, 0
			for y := range curveH {
				for x := range curveW {
					c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
					if c == (color.NRGBA{30, 90, 220, 255}) {
						blue = true
					}
					if y < marginT && x >= marginL && c.R < 128 {
						titleInk++
					}
				}
			}
			if blue != tc.wantBlue {
				t.Errorf("moving average drawn: %v, want %v", blue, tc.wantBlue)
			}
			if titleInk < 20 {
				t.Errorf("%d dark pixels where the title goes", titleInk)
			}
		})
	}
	if err := WriteLossCurve(filepath.Join(t.TempDir(), "missing", "loss.png"), "x", falling); err == nil {
		t.Error("no error writing into a missing folder")
	}
}
