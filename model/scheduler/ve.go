package scheduler

import "math"

// Helpers of the samplers that work on variance-exploding samples
// x = x0 + σ ε (Euler and the k-diffusion samplers). Samples are flat
// float32 slices; the arithmetic is float64, rounded to float32 once per
// value.

// veScaleInput returns x / sqrt(σ²+1), the sample as the model sees it at
// noise level s.
func veScaleInput(x []float32, s float64) []float32 {
	c := 1 / math.Sqrt(s*s+1)
	out := make([]float32, len(x))
	for j, v := range x {
		out[j] = float32(float64(v) * c)
	}
	return out
}

// veNoised returns x0 + s noise, the sample at noise level s.
func veNoised(x0, noise []float32, s float64) []float32 {
	out := make([]float32, len(x0))
	for j := range x0 {
		out[j] = float32(float64(x0[j]) + s*float64(noise[j]))
	}
	return out
}

// veX0 converts a model output to the denoised sample for a
// variance-exploding sample x at level s (k-diffusion's CompVisDenoiser
// and CompVisVDenoiser).
func veX0(pred string, s float64, m, x []float32) []float32 {
	out := make([]float32, len(x))
	for j := range x {
		xv, mv := float64(x[j]), float64(m[j])
		switch pred {
		case "v_prediction":
			out[j] = float32(mv*(-s/math.Sqrt(s*s+1)) + xv/(s*s+1))
		case "sample":
			out[j] = m[j]
		default:
			out[j] = float32(xv - s*mv)
		}
	}
	return out
}

// derivative is the probability-flow ODE's dx/dσ = (x - den)/σ at level
// s, in float64.
func derivative(x, den []float32, s float64) []float64 {
	d := make([]float64, len(x))
	for j := range x {
		d[j] = (float64(x[j]) - float64(den[j])) / s
	}
	return d
}

// ancestral is k-diffusion's get_ancestral_step with η = 1: the level to
// step down to and the noise to add when going from σ to σ'. σ_up is at
// most σ' (it is mathematically; the bound keeps rounding from making
// σ_down NaN).
func ancestral(from, to float64) (down, up float64) {
	up = math.Min(to, math.Sqrt(to*to*(from*from-to*to)/(from*from)))
	return math.Sqrt(to*to - up*up), up
}
