package sd

import (
	"errors"
	"fmt"
	"math"
)

// Bounds on what one generation may ask for, checked before anything is
// allocated.
const (
	// MaxImageSide is the longest image side GenerateOptions accept, in
	// pixels (16 times SD 1.x's 512; AUTOMATIC1111's sliders stop at 2048).
	MaxImageSide = 8192
	// MaxCFG is the largest guidance scale GenerateOptions accept
	// (AUTOMATIC1111's slider stops at 30; far above it the latents blow up).
	MaxCFG = 100.0
	// MaxSampleSize is the largest UNet sample_size (latent side) a model
	// config may declare: 512 latents are 4096 pixels.
	MaxSampleSize = 512
)

// checkRanges bounds the config fields that validate leaves open, so that a
// hostile config.json (sample_size 100000000, a NaN epsilon) is refused with
// the field's name before any tensor is allocated. Load calls it (in
// loadVariables) for every model, diffusers or single-file, before the
// graph that lists the weights is built.
func (m *Model) checkRanges() error {
	if m.Text == nil || m.UNet == nil || m.VAE == nil {
		return fmt.Errorf("model lacks a text encoder, UNet or VAE config")
	}
	for _, f := range []struct {
		name      string
		v, lo, hi float64
		open      bool // lo excluded
	}{
		{"text_encoder layer_norm_eps", m.Text.LayerNormEps, 0, 0.1, true},
		{"unet norm_eps", m.UNet.NormEps, 0, 0.1, true},
		{"unet freq_shift", m.UNet.FreqShift, 0, 10, false},
		{"unet sample_size", float64(m.UNet.SampleSize), 1, MaxSampleSize, false},
		{"unet downsample_padding", float64(m.UNet.DownsamplePadding), 0, 3, false},
		{"vae scaling_factor", m.VAE.ScalingFactor, 0, 100, true},
	} {
		if !inRange(f.v, f.lo, f.hi, f.open) {
			lb := "["
			if f.open {
				lb = "("
			}
			return fmt.Errorf("config field %s = %g outside %s%g, %g]", f.name, f.v, lb, f.lo, f.hi)
		}
	}
	if mult := 1 << (len(m.VAE.BlockOutChannels) - 1); m.UNet.SampleSize*8 < mult {
		return fmt.Errorf("config field unet sample_size %d is below one VAE tile (%d pixels)", m.UNet.SampleSize, mult)
	}
	return nil
}

// inRange reports whether v is a finite number in [lo, hi] ((lo, hi] when
// open).
func inRange(v, lo, hi float64, open bool) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) || v > hi || v < lo {
		return false
	}
	return !open || v > lo
}

// checkBounds refuses generation options beyond MaxImageSide and MaxCFG.
func checkBounds(o GenerateOptions) error {
	switch {
	case o.Width > MaxImageSide || o.Height > MaxImageSide:
		return fmt.Errorf("size %dx%d: at most %d pixels a side", o.Width, o.Height, MaxImageSide)
	case o.CFG > MaxCFG:
		return fmt.Errorf("guidance scale %g: at most %g", o.CFG, MaxCFG)
	}
	return nil
}

// firstNonFinite reports the index of the first NaN or infinite value of x, or -1.
func firstNonFinite(x []float32) int {
	for i, v := range x {
		if v-v != 0 { // NaN - NaN and Inf - Inf are NaN
			return i
		}
	}
	return -1
}

// ErrNonFinite is returned (wrapped) when latents or vectors hold NaN or
// infinite values: the result would be a black or noise image.
var ErrNonFinite = errors.New("values became NaN or infinite")

// nonFiniteLatents stops sampling when x holds a NaN or infinity after step.
func nonFiniteLatents(x []float32, step int, cfg float64) error {
	if i := firstNonFinite(x); i >= 0 {
		return fmt.Errorf("step %d: latents %w (value %d is %g; guidance scale %g)", step, ErrNonFinite, i, x[i], cfg)
	}
	return nil
}
