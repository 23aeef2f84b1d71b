package ui

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"path/filepath"
	"testing"

	"kata/app"
)

// The tests' goroutine is the window's UI goroutine: background results wait
// for it to run them in WaitIdle (background.go).
func init() { testLoop = newUILoop() }

// newTestServices opens a real library in a temporary directory.
func newTestServices(t *testing.T) *app.Kata {
	t.Helper()
	k, err := app.Open(filepath.Join(t.TempDir(), "library"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// testPNG is a 96x96 picture whose colours depend on seed, so that different
// seeds give different files (the library deduplicates by content).
func testPNG(t *testing.T, seed int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for y := 0; y < 96; y++ {
		for x := 0; x < 96; x++ {
			img.Set(x, y, color.RGBA{uint8(x * seed), uint8(y + seed*40), uint8(seed * 70), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
