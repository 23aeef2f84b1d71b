package scheduler

import (
	"fmt"
	"math"
)

// numpyLinspace is np.linspace(start, stop, n) in float64: i*step + start,
// with the last value set to stop exactly.
func numpyLinspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[n-1] = stop
	return out
}

// numpyArangeDown is np.arange(start, 0, -step) for a float step: numpy
// derives the length from ceil(-start / -step) and fills start + i*delta,
// where delta is the difference of the first two values.
func numpyArangeDown(start, step float64) []float64 {
	n := int(math.Ceil((0 - start) / -step))
	if n <= 0 {
		return nil
	}
	delta := (start - step) - start
	out := make([]float64, n)
	for i := range out {
		out[i] = start + float64(i)*delta
	}
	return out
}

// spacedTimesteps returns descending timesteps as diffusers' DDIM and Euler
// schedulers place them (timestep_spacing "leading", "trailing" or
// "linspace"), before any rounding the caller applies.
func spacedTimesteps(cfg Config, numTrain, steps int) ([]float64, error) {
	if steps < 1 || steps > numTrain {
		return nil, fmt.Errorf("scheduler: %d steps outside [1, %d]", steps, numTrain)
	}
	var ts []float64
	switch cfg.TimestepSpacing {
	case "linspace":
		lin := numpyLinspace(0, float64(numTrain-1), steps)
		for i := len(lin) - 1; i >= 0; i-- {
			ts = append(ts, lin[i])
		}
	case "leading":
		ratio := numTrain / steps
		for i := steps - 1; i >= 0; i-- {
			ts = append(ts, float64(i*ratio+cfg.StepsOffset))
		}
	case "trailing":
		for _, v := range numpyArangeDown(float64(numTrain), float64(numTrain)/float64(steps)) {
			ts = append(ts, math.RoundToEven(v)-1)
		}
	default:
		return nil, fmt.Errorf("scheduler: unsupported timestep_spacing %q", cfg.TimestepSpacing)
	}
	for _, t := range ts {
		if t < 0 || t > float64(numTrain-1) {
			return nil, fmt.Errorf("scheduler: %d steps with %s spacing and steps_offset %d give timestep %g outside [0, %d]",
				steps, cfg.TimestepSpacing, cfg.StepsOffset, t, numTrain-1)
		}
	}
	return ts, nil
}

// roundTimesteps rounds half to even, as numpy's round does.
func roundTimesteps(ts []float64) []int {
	out := make([]int, len(ts))
	for i, t := range ts {
		out[i] = int(math.RoundToEven(t))
	}
	return out
}

// floatTimesteps returns integer timesteps as the float64s of Sampler's
// Timesteps (a new slice).
func floatTimesteps(ts []int) []float64 {
	out := make([]float64, len(ts))
	for i, t := range ts {
		out[i] = float64(t)
	}
	return out
}

// interpSigma is np.interp(t, arange(len(sigmas)), sigmas) for ascending
// per-timestep sigmas.
func interpSigma(sigmas []float32, t float64) float64 {
	if t <= 0 {
		return float64(sigmas[0])
	}
	last := len(sigmas) - 1
	if t >= float64(last) {
		return float64(sigmas[last])
	}
	j := int(math.Floor(t))
	lo, hi := float64(sigmas[j]), float64(sigmas[j+1])
	if t == float64(j) {
		return lo
	}
	return (hi-lo)*(t-float64(j)) + lo
}

// KarrasSigmas returns the n noise levels of Karras et al. (2022), eq. 5,
// with ρ = 7: (σmax^(1/ρ) + i/(n-1) (σmin^(1/ρ) - σmax^(1/ρ)))^ρ, from
// sigmaMax down to sigmaMin (both endpoints included).
func KarrasSigmas(sigmaMin, sigmaMax float64, n int) []float64 {
	const rho = 7.0
	minInv, maxInv := math.Pow(sigmaMin, 1/rho), math.Pow(sigmaMax, 1/rho)
	out := make([]float64, n)
	for i, r := range numpyLinspace(0, 1, n) {
		out[i] = math.Pow(maxInv+r*(minInv-maxInv), rho)
	}
	return out
}

// sigmaToT maps a noise level back to a fractional training timestep by
// linear interpolation in log sigma (diffusers' _sigma_to_t); logSigmas are
// the float32 logs of the ascending training sigmas.
func sigmaToT(sigma float64, logSigmas []float32) float64 {
	ls := math.Log(math.Max(sigma, 1e-10))
	low := 0
	for i, l := range logSigmas {
		if ls-float64(l) >= 0 {
			low = i
		}
	}
	low = min(low, len(logSigmas)-2)
	lo, hi := float64(logSigmas[low]), float64(logSigmas[low+1])
	w := (lo - ls) / (lo - hi)
	w = math.Min(math.Max(w, 0), 1)
	return (1-w)*float64(low) + w*float64(low+1)
}

func logSigmas(sigmas []float32) []float32 {
	out := make([]float32, len(sigmas))
	for i, s := range sigmas {
		out[i] = float32(math.Log(float64(s)))
	}
	return out
}
