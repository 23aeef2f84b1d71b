package scheduler

import (
	"fmt"
	"math"
)

// Schedule is the DDPM training noise schedule: x_t = sqrt(ᾱ_t) x_0 +
// sqrt(1-ᾱ_t) ε for integer t in [0, NumTrain). Values are float32 computed
// the way diffusers computes them with torch on CPU, so that samplers match
// reference runs to the last bits.
type Schedule struct {
	Betas         []float32 // β_t, [NumTrain]
	Alphas        []float32 // 1 - β_t
	AlphasCumprod []float32 // ᾱ_t = Π_{s≤t} α_s
}

// NewSchedule computes the training schedule of cfg.
func NewSchedule(cfg Config) (*Schedule, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var betas []float32
	switch {
	case cfg.TrainedBetas != nil:
		betas = make([]float32, len(cfg.TrainedBetas))
		for i, b := range cfg.TrainedBetas {
			betas[i] = float32(b)
		}
	case cfg.BetaSchedule == "linear":
		betas = torchLinspace(cfg.BetaStart, cfg.BetaEnd, cfg.NumTrainTimesteps)
	case cfg.BetaSchedule == "scaled_linear":
		betas = torchLinspace(math.Sqrt(cfg.BetaStart), math.Sqrt(cfg.BetaEnd), cfg.NumTrainTimesteps)
		for i, b := range betas {
			betas[i] = b * b
		}
	case cfg.BetaSchedule == "squaredcos_cap_v2":
		betas = cosineBetas(cfg.NumTrainTimesteps)
	default:
		return nil, fmt.Errorf("scheduler: unsupported beta_schedule %q", cfg.BetaSchedule)
	}
	s := &Schedule{Betas: betas, Alphas: make([]float32, len(betas)), AlphasCumprod: make([]float32, len(betas))}
	// torch.cumprod on CPU accumulates float32 inputs in double and rounds
	// each partial product to float32.
	acc := 1.0
	for i, b := range betas {
		s.Alphas[i] = 1 - b
		acc *= float64(s.Alphas[i])
		s.AlphasCumprod[i] = float32(acc)
	}
	return s, nil
}

// NumTrain returns the number of training timesteps (1000 for SD).
func (s *Schedule) NumTrain() int { return len(s.AlphasCumprod) }

// torchLinspace reproduces torch.linspace(start, end, n, dtype=float32) as
// the CPU kernel of torch 1.x computes it (checked bit for bit against the
// fixture's alphas_cumprod): float32 arithmetic with fused multiply-adds
// (the AVX2 kernel is built with FMA contraction), the first half counted up
// from start and the second half down from end, decided per 8-wide vector
// whose elements are base + k*step, and a scalar tail.
func torchLinspace(start, end float64, n int) []float32 {
	out := make([]float32, n)
	if n == 1 {
		out[0] = float32(start)
		return out
	}
	s, e := float32(start), float32(end)
	step := (e - s) / float32(n-1)
	half := n / 2
	at := func(idx int) float32 {
		if idx < half {
			return fma32(step, float32(idx), s)
		}
		return fma32(-step, float32(n-idx-1), e)
	}
	const vec = 8
	i := 0
	// The vectorised loop handles two vectors per iteration.
	for ; i+2*vec <= n; i += vec {
		base := at(i)
		for k := 0; k < vec; k++ {
			out[i+k] = fma32(float32(k), step, base)
		}
		i += vec
		base = at(i)
		for k := 0; k < vec; k++ {
			out[i+k] = fma32(float32(k), step, base)
		}
	}
	for ; i < n; i++ {
		out[i] = at(i)
	}
	return out
}

// fma32 is a float32 fused multiply-add. The float32 product is exact in
// float64, so only the final sum is rounded twice (float64, then float32),
// which differs from a true single rounding only in rare halfway cases.
func fma32(a, b, c float32) float32 { return float32(math.FMA(float64(a), float64(b), float64(c))) }

// cosineBetas is the "squaredcos_cap_v2" (GLIDE) schedule, computed in
// float64 and stored as float32 as diffusers does.
func cosineBetas(n int) []float32 {
	alphaBar := func(t float64) float64 {
		c := math.Cos((t + 0.008) / 1.008 * math.Pi / 2)
		return c * c
	}
	out := make([]float32, n)
	for i := range out {
		t1, t2 := float64(i)/float64(n), float64(i+1)/float64(n)
		out[i] = float32(math.Min(1-alphaBar(t2)/alphaBar(t1), 0.999))
	}
	return out
}

// AddNoise returns sqrt(ᾱ_t) x0 + sqrt(1-ᾱ_t) noise, the forward process at
// integer timestep t (diffusers DDPMScheduler.add_noise). x0 and noise must
// have the same length.
func (s *Schedule) AddNoise(x0, noise []float32, t int) ([]float32, error) {
	if t < 0 || t >= len(s.AlphasCumprod) {
		return nil, fmt.Errorf("scheduler: timestep %d outside [0, %d)", t, len(s.AlphasCumprod))
	}
	if len(x0) != len(noise) {
		return nil, fmt.Errorf("scheduler: sample has %d values, noise %d", len(x0), len(noise))
	}
	a, b := s.NoiseCoefficients(t)
	out := make([]float32, len(x0))
	for i := range x0 {
		out[i] = a*x0[i] + b*noise[i]
	}
	return out, nil
}

// NoiseCoefficients returns (sqrt(ᾱ_t), sqrt(1-ᾱ_t)) in float32, the
// weights of x0 and noise in x_t; t must be in [0, NumTrain).
func (s *Schedule) NoiseCoefficients(t int) (float32, float32) {
	ac := s.AlphasCumprod[t]
	return sqrt32(ac), sqrt32(1 - ac)
}

// Sigmas returns the variance-exploding noise levels σ_t = sqrt((1-ᾱ_t)/ᾱ_t)
// for every training timestep (ascending), in float32 as torch computes them.
func (s *Schedule) Sigmas() []float32 {
	out := make([]float32, len(s.AlphasCumprod))
	for i, ac := range s.AlphasCumprod {
		out[i] = sqrt32((1 - ac) / ac)
	}
	return out
}

// sqrt32 is a correctly rounded float32 square root (torch's pow(x, 0.5)).
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
