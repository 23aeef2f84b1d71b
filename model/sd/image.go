package sd

import (
	"errors"
	"image"
	"image/color"
	"math"

	"github.com/disintegration/imaging"
)

// ToImage converts a decoded image [1, 3, H, W] in [-1, 1] to 8-bit RGB as
// diffusers does: clamp((x+1)/2, 0, 1) * 255, rounded.
func ToImage(decoded []float32, width, height int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, width, height))
	plane := width * height
	conv := func(v float32) uint8 {
		f := math.Min(math.Max(float64(v)/2+0.5, 0), 1)
		return uint8(math.RoundToEven(f * 255))
	}
	for y := range height {
		for x := range width {
			i := y*width + x
			img.SetNRGBA(x, y, color.NRGBA{conv(decoded[i]), conv(decoded[plane+i]), conv(decoded[2*plane+i]), 255})
		}
	}
	return img
}

// FromImage resizes img to width x height (Lanczos, when the size differs)
// and returns it as [1, 3, H, W] values in [-1, 1].
func FromImage(img image.Image, width, height int) ([]float32, error) {
	if img == nil || img.Bounds().Empty() {
		return nil, errors.New("empty image")
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		img = imaging.Resize(img, width, height, imaging.Lanczos)
	}
	src := imaging.Clone(img)
	plane := width * height
	out := make([]float32, 3*plane)
	for y := range height {
		for x := range width {
			c := src.NRGBAAt(x, y)
			i := y*width + x
			out[i] = float32(c.R)/127.5 - 1
			out[plane+i] = float32(c.G)/127.5 - 1
			out[2*plane+i] = float32(c.B)/127.5 - 1
		}
	}
	return out, nil
}
