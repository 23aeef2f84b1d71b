package scheduler

import (
	"fmt"
	"math/rand/v2"
)

// DDIM is diffusers' DDIMScheduler: deterministic for eta 0. Its arithmetic
// is float32 in torch's order of operations, so single steps match diffusers
// to the last bit or so.
type DDIM struct {
	sched     *Schedule
	cfg       Config
	timesteps []int
	stride    int     // num_train // steps: the previous timestep is t - stride
	final     float32 // ᾱ used past t = 0
	eta       float32
}

// NewDDIM builds a DDIM sampler with steps steps and the given eta (0 for
// the deterministic sampler SD pipelines use).
func NewDDIM(cfg Config, steps int, eta float64) (*DDIM, error) {
	sched, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	if eta < 0 {
		return nil, fmt.Errorf("scheduler ddim: negative eta %g", eta)
	}
	ts, err := spacedTimesteps(cfg, sched.NumTrain(), steps)
	if err != nil {
		return nil, err
	}
	d := &DDIM{sched: sched, cfg: cfg, timesteps: roundTimesteps(ts), stride: sched.NumTrain() / steps, eta: float32(eta)}
	d.final = sched.AlphasCumprod[0]
	if cfg.SetAlphaToOne {
		d.final = 1
	}
	return d, nil
}

// Name returns "ddim".
func (d *DDIM) Name() string { return "ddim" }

// Len returns the number of steps.
func (d *DDIM) Len() int { return len(d.timesteps) }

// Timesteps returns the integer timesteps, e.g. 951, 901, ..., 1 for 20 steps on SD.
func (d *DDIM) Timesteps() []float64 {
	return floatTimesteps(d.timesteps)
}

// IntTimesteps returns the timesteps as integers.
func (d *DDIM) IntTimesteps() []int { return append([]int(nil), d.timesteps...) }

// InitNoiseSigma is 1.
func (d *DDIM) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput returns a copy of x: DDIM feeds samples unscaled.
func (d *DDIM) ScaleModelInput(x []float32, i int) []float32 { return append([]float32(nil), x...) }

// Reset does nothing: DDIM keeps no history.
func (d *DDIM) Reset() {}

// alphas returns ᾱ_t and ᾱ_prev for step i; past t = 0 the final value
// (ᾱ_0, or 1 with set_alpha_to_one) is used.
func (d *DDIM) alphas(i int) (int, float32, float32) {
	t := d.timesteps[i]
	prev := t - d.stride
	at := d.sched.AlphasCumprod[t]
	aPrev := d.final
	if prev >= 0 {
		aPrev = d.sched.AlphasCumprod[prev]
	}
	return t, at, aPrev
}

// x0AndEps returns the x0 and ε predictions in float32 as diffusers
// computes them (optionally clamped x0 when clip_sample is set).
func (d *DDIM) x0AndEps(m []float32, i int, x []float32) (x0, eps []float32) {
	_, at, _ := d.alphas(i)
	bt := 1 - at
	sa, sb := sqrt32(at), sqrt32(bt)
	x0 = make([]float32, len(x))
	eps = make([]float32, len(x))
	for j := range x {
		switch d.cfg.PredictionType {
		case "v_prediction":
			x0[j] = float32(sa*x[j]) - float32(sb*m[j])
			eps[j] = float32(sa*m[j]) + float32(sb*x[j])
		case "sample":
			x0[j] = m[j]
			eps[j] = (x[j] - float32(sa*x0[j])) / sb
		default:
			x0[j] = (x[j] - float32(sb*m[j])) / sa
			eps[j] = m[j]
		}
	}
	if d.cfg.ClipSample {
		r := float32(d.cfg.ClipSampleRange)
		for j, v := range x0 {
			x0[j] = min(max(v, -r), r)
		}
	}
	return x0, eps
}

// PredictOriginal returns the x0 prediction of step i.
func (d *DDIM) PredictOriginal(modelOut []float32, i int, x []float32) ([]float32, error) {
	if err := checkStep("ddim", i, d.Len(), len(x), len(modelOut)); err != nil {
		return nil, err
	}
	x0, _ := d.x0AndEps(modelOut, i, x)
	return x0, nil
}

// Step applies DDIM update (Song et al. 2021, eq. 12):
// x_prev = sqrt(ᾱ_prev) x0 + sqrt(1 - ᾱ_prev - σ²) ε + σ z, with
// σ = eta sqrt((1-ᾱ_prev)/(1-ᾱ_t) (1 - ᾱ_t/ᾱ_prev)) and z ~ N(0, 1) from rng.
func (d *DDIM) Step(modelOut []float32, i int, x []float32, rng *rand.Rand) ([]float32, error) {
	out, _, err := d.StepWithPrediction(modelOut, i, x, rng)
	return out, err
}

// StepWithPrediction is Step that also returns the x0 prediction.
func (d *DDIM) StepWithPrediction(modelOut []float32, i int, x []float32, rng *rand.Rand) (prev, x0 []float32, err error) {
	if err := checkStep("ddim", i, d.Len(), len(x), len(modelOut)); err != nil {
		return nil, nil, err
	}
	_, at, aPrev := d.alphas(i)
	x0, eps := d.x0AndEps(modelOut, i, x)
	var std float32
	if d.eta > 0 {
		if rng == nil {
			return nil, nil, fmt.Errorf("scheduler ddim: eta %g needs a random source", d.eta)
		}
		bt, bPrev := 1-at, 1-aPrev
		variance := (bPrev / bt) * (1 - at/aPrev)
		std = d.eta * sqrt32(variance)
	}
	dirCoef := sqrt32(1 - aPrev - std*std)
	sPrev := sqrt32(aPrev)
	prev = make([]float32, len(x))
	for j := range x {
		prev[j] = float32(sPrev*x0[j]) + float32(dirCoef*eps[j])
	}
	if std > 0 {
		for j := range prev {
			prev[j] += std * float32(rng.NormFloat64())
		}
	}
	return prev, x0, nil
}

// AddNoise noises x0 to the timestep of step i: sqrt(ᾱ_t) x0 + sqrt(1-ᾱ_t) noise.
func (d *DDIM) AddNoise(x0, noise []float32, i int) ([]float32, error) {
	if err := checkStep("ddim", i, d.Len(), len(x0), len(noise)); err != nil {
		return nil, err
	}
	return d.sched.AddNoise(x0, noise, d.timesteps[i])
}
