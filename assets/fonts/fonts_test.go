package fonts

import (
	"image"
	"image/color"
	"image/draw"
	"testing"
	"unicode/utf8"

	"golang.org/x/image/font"
)

func face(t *testing.T, size float64) font.Face {
	t.Helper()
	f, err := Label(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestLabelSizes(t *testing.T) {
	small, large := face(t, 10), face(t, 24)
	if hs, hl := small.Metrics().Height.Ceil(), large.Metrics().Height.Ceil(); hs < 10 || hl <= hs {
		t.Errorf("line heights %d (10 px) and %d (24 px)", hs, hl)
	}
}

func TestFit(t *testing.T) {
	f := face(t, 12)
	width := func(s string) int { return font.MeasureString(f, s).Ceil() }
	long := "handstand on a beach"
	tests := []struct {
		name, text, ellipsis string
		maxW                 int
		want                 string // "" to check the rules only
	}{
		{"fits", "sit", "…", 100, "sit"},
		{"exact width", long, "…", width(long), long},
		{"plain cut", long, "", width("handstand"), "handstand"},
		{"ellipsis cut", long, "…", width("handstand…"), "handstand…"},
		{"one rune kept", long, "", 1, "h"},
		{"one rune kept with ellipsis", long, "…", 1, "h…"},
		{"runes, not bytes", "ééééééééé", "", width("éééé"), "éééé"},
		{"empty", "", "…", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Fit(f, tc.text, tc.maxW, tc.ellipsis)
			if got != tc.want {
				t.Errorf("Fit(%q, %d, %q) = %q, want %q", tc.text, tc.maxW, tc.ellipsis, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Fit(%q) = %q is not valid UTF-8", tc.text, got)
			}
		})
	}
}

// TestDraw: the label's ink lies right of x and within its line below y,
// in the colour asked for.
func TestDraw(t *testing.T) {
	f := face(t, 14)
	img := image.NewNRGBA(image.Rect(0, 0, 120, 60))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	x, y := 10, 20
	ink := color.NRGBA{200, 0, 0, 255}
	Draw(img, f, "Salute", x, y, ink)
	lineH := f.Metrics().Height.Ceil()
	inked, full := 0, 0
	for py := range 60 {
		for px := range 120 {
			c := img.NRGBAAt(px, py)
			if c == (color.NRGBA{255, 255, 255, 255}) {
				continue
			}
			inked++
			if px < x || py < y || py >= y+lineH {
				t.Fatalf("ink at (%d, %d), outside the line at (%d, %d) of height %d", px, py, x, y, lineH)
			}
			if c.G != c.B || c.R < c.G {
				t.Fatalf("pixel %v at (%d, %d) is not a blend of white and %v", c, px, py, ink)
			}
			if c == ink {
				full++
			}
		}
	}
	if inked < 30 || full == 0 {
		t.Errorf("%d pixels inked (%d fully): the label was not drawn", inked, full)
	}
}
