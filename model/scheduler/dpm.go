package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DPMPP2M is diffusers' DPMSolverMultistepScheduler with algorithm
// "dpmsolver++", solver order 2 (midpoint), lower_order_final and final
// sigma 0: the sampler AUTOMATIC1111 calls "DPM++ 2M" ("DPM++ 2M Karras"
// on Karras sigmas between the training schedule's smallest and largest
// sigma). Samples are variance-preserving (x_t = α x0 + σ ε, starting noise
// of standard deviation 1) and fed to the model unscaled. The first step,
// and the last, are first order (DDIM-like); the others use the previous
// step's x0 prediction.
type DPMPP2M struct {
	cfg       Config
	karras    bool
	timesteps []int
	sigmas    []float64 // variance-exploding levels, len steps+1, last 0

	prevX0    []float32 // x0 prediction of the previous step
	prevIndex int       // index of that step, -1 when none
}

// NewDPMPP2M builds the DPM++ 2M sampler, on Karras sigmas if karras.
func NewDPMPP2M(cfg Config, steps int, karras bool) (*DPMPP2M, error) {
	sched, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	n := sched.NumTrain()
	ts, err := dpmTimesteps(cfg, n, steps)
	if err != nil {
		return nil, err
	}
	train := sched.Sigmas()
	sigmas := make([]float64, steps, steps+1)
	if karras {
		sigmas = KarrasSigmas(float64(train[0]), float64(train[n-1]), steps)
		ls := logSigmas(train)
		for i, s := range sigmas {
			ts[i] = int(math.RoundToEven(sigmaToT(s, ls)))
		}
	} else {
		for i, t := range ts {
			sigmas[i] = float64(train[t])
		}
	}
	for i, s := range sigmas {
		sigmas[i] = float64(float32(s))
	}
	sigmas = append(sigmas, 0)
	return &DPMPP2M{cfg: cfg, karras: karras, timesteps: ts, sigmas: sigmas, prevIndex: -1}, nil
}

// Name returns "dpmpp_2m" or "dpmpp_2m_karras".
func (d *DPMPP2M) Name() string {
	if d.karras {
		return "dpmpp_2m_karras"
	}
	return "dpmpp_2m"
}

// Len returns the number of steps.
func (d *DPMPP2M) Len() int { return len(d.timesteps) }

// Timesteps returns the integer model timesteps.
func (d *DPMPP2M) Timesteps() []float64 {
	return floatTimesteps(d.timesteps)
}

// Sigmas returns the variance-exploding noise level of each step plus the final 0.
func (d *DPMPP2M) Sigmas() []float64 { return append([]float64(nil), d.sigmas...) }

// InitNoiseSigma is 1.
func (d *DPMPP2M) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput returns a copy of x (no scaling).
func (d *DPMPP2M) ScaleModelInput(x []float32, i int) []float32 { return append([]float32(nil), x...) }

// Reset forgets the previous step's prediction.
func (d *DPMPP2M) Reset() { d.prevX0, d.prevIndex = nil, -1 }

// PredictOriginal returns the x0 prediction at step i.
func (d *DPMPP2M) PredictOriginal(modelOut []float32, i int, x []float32) ([]float32, error) {
	if err := checkStep(d.Name(), i, d.Len(), len(x), len(modelOut)); err != nil {
		return nil, err
	}
	a, s := vpFromSigma(d.sigmas[i])
	out := make([]float32, len(x))
	predictX0(d.cfg.PredictionType, a, s, out, x, modelOut)
	return out, nil
}

// lambda is log(α/σ) = -log σ_VE, the half log-SNR DPM-Solver integrates in.
func lambda(sigma float64) float64 { return -math.Log(sigma) }

// Step takes one DPM-Solver++ step from σ_i to σ_{i+1} (Lu et al. 2022,
// algorithm 2): first order when there is no previous prediction from step
// i-1 or at the last step, second order (multistep midpoint) otherwise.
func (d *DPMPP2M) Step(modelOut []float32, i int, x []float32, _ *rand.Rand) ([]float32, error) {
	x0, err := d.PredictOriginal(modelOut, i, x)
	if err != nil {
		return nil, err
	}
	s0, st := d.sigmas[i], d.sigmas[i+1]
	out := make([]float32, len(x))
	if st == 0 {
		// σ_next = 0: the update reduces to the x0 prediction.
		copy(out, x0)
	} else {
		at, sgt := vpFromSigma(st)
		_, sgs := vpFromSigma(s0)
		h := lambda(st) - lambda(s0)
		ratio := sgt / sgs
		c := at * math.Expm1(-h) // α_t (e^{-h} - 1)
		secondOrder := d.prevIndex == i-1 && d.prevX0 != nil && i+1 < d.Len()
		if secondOrder {
			h0 := lambda(s0) - lambda(d.sigmas[i-1])
			r0 := h0 / h
			for j := range x {
				m0, m1 := float64(x0[j]), float64(d.prevX0[j])
				d1 := (m0 - m1) / r0
				out[j] = float32(ratio*float64(x[j]) - c*m0 - 0.5*c*d1)
			}
		} else {
			for j := range x {
				out[j] = float32(ratio*float64(x[j]) - c*float64(x0[j]))
			}
		}
	}
	d.prevX0, d.prevIndex = x0, i
	return out, nil
}

// AddNoise returns α_i x0 + σ_i noise (variance-preserving) at step i's level.
func (d *DPMPP2M) AddNoise(x0, noise []float32, i int) ([]float32, error) {
	if err := checkStep(d.Name(), i, d.Len(), len(x0), len(noise)); err != nil {
		return nil, err
	}
	a, s := vpFromSigma(d.sigmas[i])
	out := make([]float32, len(x0))
	for j := range x0 {
		out[j] = float32(a*float64(x0[j]) + s*float64(noise[j]))
	}
	return out, nil
}

// dpmTimesteps places the timesteps as DPMSolverMultistepScheduler does,
// which differs from DDIM for leading and linspace spacing: it spaces
// steps+1 points and drops the one at t = 0.
func dpmTimesteps(cfg Config, n, steps int) ([]int, error) {
	if steps < 1 || steps >= n {
		return nil, fmt.Errorf("scheduler: %d steps outside [1, %d)", steps, n)
	}
	var ts []int
	switch cfg.TimestepSpacing {
	case "linspace":
		lin := numpyLinspace(0, float64(n-1), steps+1)
		for i := steps; i >= 1; i-- {
			ts = append(ts, int(math.RoundToEven(lin[i])))
		}
	case "leading":
		ratio := n / (steps + 1)
		for i := steps; i >= 1; i-- {
			ts = append(ts, i*ratio+cfg.StepsOffset)
		}
	default:
		f, err := spacedTimesteps(cfg, n, steps)
		if err != nil {
			return nil, err
		}
		ts = roundTimesteps(f)
	}
	for _, t := range ts {
		if t < 0 || t >= n {
			return nil, fmt.Errorf("scheduler: %d steps with %s spacing give timestep %d outside [0, %d)", steps, cfg.TimestepSpacing, t, n)
		}
	}
	return ts, nil
}
