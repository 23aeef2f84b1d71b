package judge

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"

	"github.com/disintegration/imaging"
	"golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// Augmentation sets how strongly Augment disturbs a training image, so that
// the judges read generated images (soft, noisy, slightly off in colour and
// framing, compressed) and not only clean renders. Each effect is applied with
// its probability, independently; a zero probability turns it off.
type Augmentation struct {
	PGeometry float64 // probability of a scale and shift; default 0.8
	Scale     float64 // largest relative zoom in or out; default 0.1
	Shift     float64 // largest shift per axis in pixels at Size; default 3
	PColor    float64 // probability of colour jitter; default 0.8
	Bright    float64 // largest brightness change in percent; default 8
	Contrast  float64 // largest contrast change in percent; default 15
	Saturate  float64 // largest saturation change in percent; default 15
	Gamma     float64 // largest gamma deviation from 1; default 0.1
	PBlur     float64 // probability of a Gaussian blur; default 0.3
	Blur      float64 // largest blur sigma in pixels; default 1
	PNoise    float64 // probability of Gaussian pixel noise; default 0.5
	Noise     float64 // largest noise standard deviation (of 1.0 full scale); default 0.03
	PJPEG     float64 // probability of a JPEG round trip; default 0.5
	JPEGMin   int     // lowest JPEG quality; default 30 (the highest is 90)
}

// DefaultAugmentation is the recipe the shipped judges were trained with.
func DefaultAugmentation() Augmentation {
	return Augmentation{
		PGeometry: 0.8, Scale: 0.1, Shift: 3,
		PColor: 0.8, Bright: 8, Contrast: 15, Saturate: 15, Gamma: 0.1,
		PBlur: 0.3, Blur: 1,
		PNoise: 0.5, Noise: 0.03,
		PJPEG: 0.5, JPEGMin: 30,
	}
}

// Augment returns a disturbed copy of img (any size; the result has img's
// bounds, origin 0,0), drawing every random choice from rng: the same rng
// state gives the same pixels. img itself is not modified.
func Augment(img image.Image, a Augmentation, rng *rand.Rand) *image.NRGBA {
	out := imaging.Clone(img)
	uniform := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	sym := func(m float64) float64 { return uniform(-m, m) }
	if rng.Float64() < a.PGeometry {
		out = affine(out, 1+sym(a.Scale), sym(a.Shift), sym(a.Shift))
	}
	if rng.Float64() < a.PColor {
		out = imaging.AdjustBrightness(out, sym(a.Bright))
		out = imaging.AdjustContrast(out, sym(a.Contrast))
		out = imaging.AdjustSaturation(out, sym(a.Saturate))
		out = imaging.AdjustGamma(out, 1+sym(a.Gamma))
	}
	if rng.Float64() < a.PBlur {
		out = imaging.Blur(out, uniform(0.3, math.Max(a.Blur, 0.3)))
	}
	if rng.Float64() < a.PNoise {
		addNoise(out, uniform(0, a.Noise)*255, rng)
	}
	if rng.Float64() < a.PJPEG {
		lo := max(a.JPEGMin, 1)
		out = jpegRoundTrip(out, lo+rng.IntN(max(90-lo, 0)+1))
	}
	return out
}

// affine zooms img by scale about its centre and shifts it by (dx, dy)
// pixels (measured at Size, scaled to img's width), bilinearly. Uncovered
// pixels take the mean colour of img's border, so no black frame appears.
func affine(img *image.NRGBA, scale, dx, dy float64) *image.NRGBA {
	b := img.Bounds()
	w, h := float64(b.Dx()), float64(b.Dy())
	k := w / Size
	cx, cy := w/2, h/2
	out := image.NewNRGBA(b)
	draw.Draw(out, b, image.NewUniform(borderMean(img)), image.Point{}, draw.Src)
	m := f64.Aff3{scale, 0, cx - scale*cx + dx*k, 0, scale, cy - scale*cy + dy*k}
	draw.BiLinear.Transform(out, m, img, b, draw.Over, nil)
	return out
}

// borderMean is the mean colour of img's outermost pixels.
func borderMean(img *image.NRGBA) color.NRGBA {
	b := img.Bounds()
	var sum [3]int
	n := 0
	add := func(x, y int) {
		c := img.NRGBAAt(x, y)
		sum[0] += int(c.R)
		sum[1] += int(c.G)
		sum[2] += int(c.B)
		n++
	}
	for x := b.Min.X; x < b.Max.X; x++ {
		add(x, b.Min.Y)
		add(x, b.Max.Y-1)
	}
	for y := b.Min.Y + 1; y < b.Max.Y-1; y++ {
		add(b.Min.X, y)
		add(b.Max.X-1, y)
	}
	if n == 0 {
		return color.NRGBA{A: 255}
	}
	return color.NRGBA{uint8(sum[0] / n), uint8(sum[1] / n), uint8(sum[2] / n), 255}
}

// addNoise adds N(0, std^2) to every colour channel of img (in 0..255 units).
func addNoise(img *image.NRGBA, std float64, rng *rand.Rand) {
	for i := range img.Pix {
		if i%4 == 3 {
			continue
		}
		v := float64(img.Pix[i]) + rng.NormFloat64()*std
		img.Pix[i] = uint8(math.Round(math.Min(255, math.Max(0, v))))
	}
}

// jpegRoundTrip encodes img as JPEG at quality q and decodes it again.
func jpegRoundTrip(img *image.NRGBA, q int) *image.NRGBA {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		return img // in-memory encoding of a valid image does not fail
	}
	dec, err := jpeg.Decode(&buf)
	if err != nil {
		return img
	}
	return imaging.Clone(dec)
}
