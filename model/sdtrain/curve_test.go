package sdtrain

import (
	"image"
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
			img := decodePNG(t, path)
			if b := img.Bounds(); b.Dx() != curveW || b.Dy() != curveH {
				t.Fatalf("curve is %v, want %dx%d", b, curveW, curveH)
			}
			blue, titleInk := false, 0
			for y := range curveH {
				for x := range curveW {
					c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
					if c == averageColor {
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

// TestWriteLossCurveNonFinite: infinite and NaN losses in the middle of a
// run leave the moving average drawn on both sides of them (the blue line
// does not vanish after the first bad step) and put a red mark at their
// step's x.
func TestWriteLossCurveNonFinite(t *testing.T) {
	const n = 500 // a window of 5 steps
	falling := func(bad float32, at ...int) []float32 {
		losses := make([]float32, n)
		for i := range losses {
			losses[i] = float32(math.Exp(-float64(i) / 100))
		}
		for _, i := range at {
			losses[i] = bad
		}
		return losses
	}
	run := func(from, to int) []int {
		var at []int
		for i := from; i < to; i++ {
			at = append(at, i)
		}
		return at
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	tests := []struct {
		name   string
		losses []float32
		first  int // the first non-finite step
		last   int // the last non-finite step
	}{
		{"one +Inf", falling(inf, 250), 250, 250},
		{"one -Inf", falling(-inf, 250), 250, 250},
		{"one NaN", falling(nan, 250), 250, 250},
		{"Inf early", falling(inf, 3), 3, 3},
		{"run of NaN longer than the window", falling(nan, run(200, 220)...), 200, 219},
	}
	pw := curveW - marginL - marginR
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "loss.png")
			if err := WriteLossCurve(path, "unet stage loss", tc.losses); err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, path)
			x0, x1 := stepX(tc.first, n, pw), stepX(tc.last, n, pw)
			blueLeft, blueRight, red := 0, 0, 0
			for y := range curveH {
				for x := range curveW {
					switch color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA) {
					case averageColor:
						if x < x0 {
							blueLeft++
						}
						if x > x1+1 {
							blueRight++
						}
					case nonFiniteColor:
						if x >= x0 && x <= x1 && y < marginT+nonFiniteTick+1 {
							red++
						}
					}
				}
			}
			if tc.first > 5 && blueLeft == 0 {
				t.Error("no moving average left of the non-finite loss")
			}
			if blueRight < 100 {
				t.Errorf("%d pixels of moving average right of x=%d, want the line to go on", blueRight, x1)
			}
			if red == 0 {
				t.Errorf("no mark of the non-finite loss at x=%d..%d", x0, x1)
			}
		})
	}
}

// decodePNG reads the PNG at path.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
