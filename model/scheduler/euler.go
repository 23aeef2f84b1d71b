package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Euler is diffusers' EulerDiscreteScheduler (s_churn 0) and, with
// ancestral set, EulerAncestralDiscreteScheduler. It works on
// variance-exploding samples x = x0 + σ ε: the starting noise has standard
// deviation InitNoiseSigma and the model sees x / sqrt(σ²+1).
type Euler struct {
	cfg       Config
	ancestral bool
	karras    bool
	timesteps []float64
	sigmas    []float64 // len steps+1, the last 0
}

// NewEuler builds the Euler sampler, optionally on Karras sigmas (between
// the sigmas of the first and last spaced timesteps, as diffusers does).
func NewEuler(cfg Config, steps int, karras bool) (*Euler, error) {
	return newEuler(cfg, steps, karras, false)
}

// NewEulerAncestral builds the Euler ancestral sampler ("Euler a"), which
// re-injects fresh noise from the caller's rng at every step.
func NewEulerAncestral(cfg Config, steps int) (*Euler, error) {
	return newEuler(cfg, steps, false, true)
}

func newEuler(cfg Config, steps int, karras, ancestral bool) (*Euler, error) {
	sched, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	ts, err := spacedTimesteps(cfg, sched.NumTrain(), steps)
	if err != nil {
		return nil, err
	}
	if cfg.TimestepSpacing != "linspace" {
		// leading and trailing timesteps are rounded integers; linspace
		// keeps fractional float32 values.
		for i, t := range ts {
			ts[i] = math.RoundToEven(t)
		}
	}
	for i, t := range ts {
		ts[i] = float64(float32(t))
	}
	train := sched.Sigmas()
	sigmas := make([]float64, len(ts), len(ts)+1)
	for i, t := range ts {
		sigmas[i] = interpSigma(train, t)
	}
	if karras {
		sigmas = KarrasSigmas(sigmas[len(sigmas)-1], sigmas[0], steps)
		ls := logSigmas(train)
		for i, s := range sigmas {
			ts[i] = float64(float32(sigmaToT(s, ls)))
		}
	}
	for i, s := range sigmas {
		sigmas[i] = float64(float32(s))
	}
	sigmas = append(sigmas, 0)
	return &Euler{cfg: cfg, ancestral: ancestral, karras: karras, timesteps: ts, sigmas: sigmas}, nil
}

// Name returns "euler", "euler_karras" or "euler_a".
func (e *Euler) Name() string {
	switch {
	case e.ancestral:
		return "euler_a"
	case e.karras:
		return "euler_karras"
	}
	return "euler"
}

// Len returns the number of steps.
func (e *Euler) Len() int { return len(e.timesteps) }

// Timesteps returns the model timesteps (fractional with Karras sigmas or
// linspace spacing).
func (e *Euler) Timesteps() []float64 { return append([]float64(nil), e.timesteps...) }

// Sigmas returns the noise level at the start of each step plus the final 0.
func (e *Euler) Sigmas() []float64 { return append([]float64(nil), e.sigmas...) }

// InitNoiseSigma is the largest sigma, as sqrt(σ²+1) for leading spacing
// (diffusers' convention).
func (e *Euler) InitNoiseSigma() float64 {
	m := e.sigmas[0]
	if e.cfg.TimestepSpacing == "linspace" || e.cfg.TimestepSpacing == "trailing" {
		return m
	}
	return math.Sqrt(m*m + 1)
}

// ScaleModelInput returns x / sqrt(σ_i²+1).
func (e *Euler) ScaleModelInput(x []float32, i int) []float32 {
	return veScaleInput(x, e.sigmas[min(max(i, 0), len(e.sigmas)-1)])
}

// Reset does nothing: Euler keeps no history.
func (e *Euler) Reset() {}

// PredictOriginal returns the denoised estimate x0 at step i.
func (e *Euler) PredictOriginal(modelOut []float32, i int, x []float32) ([]float32, error) {
	if err := checkStep(e.Name(), i, e.Len(), len(x), len(modelOut)); err != nil {
		return nil, err
	}
	return veX0(e.cfg.PredictionType, e.sigmas[i], modelOut, x), nil
}

// Step takes one Euler step of the probability-flow ODE dx/dσ = (x - x0)/σ
// from σ_i to σ_{i+1}. The ancestral variant steps to σ_down and adds
// σ_up-scaled noise from rng, with σ_up² = σ_{i+1}² (σ_i² - σ_{i+1}²)/σ_i²
// and σ_down² = σ_{i+1}² - σ_up².
func (e *Euler) Step(modelOut []float32, i int, x []float32, rng *rand.Rand) ([]float32, error) {
	if err := checkStep(e.Name(), i, e.Len(), len(x), len(modelOut)); err != nil {
		return nil, err
	}
	if e.ancestral && rng == nil {
		return nil, fmt.Errorf("scheduler euler_a: a random source is required")
	}
	s, next := e.sigmas[i], e.sigmas[i+1]
	d := derivative(x, veX0(e.cfg.PredictionType, s, modelOut, x), s)
	target, up := next, 0.0
	if e.ancestral {
		target, up = ancestral(s, next)
	}
	dt := target - s
	out := make([]float32, len(x))
	for j := range x {
		out[j] = float32(float64(x[j]) + d[j]*dt)
	}
	if up > 0 {
		for j := range out {
			out[j] += float32(up * rng.NormFloat64())
		}
	}
	return out, nil
}

// AddNoise returns x0 + σ_i noise, the variance-exploding sample at step i.
func (e *Euler) AddNoise(x0, noise []float32, i int) ([]float32, error) {
	if err := checkStep(e.Name(), i, e.Len(), len(x0), len(noise)); err != nil {
		return nil, err
	}
	return veNoised(x0, noise, e.sigmas[i]), nil
}
