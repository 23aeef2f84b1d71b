package scheduler

import (
	"fmt"
	"math"
	"strings"
)

// ScheduleType is one of AUTOMATIC1111's "Schedule type" choices: how the
// noise levels of a k-diffusion sampler's steps are placed.
type ScheduleType struct {
	ID    string // canonical id: "automatic", "karras", ...
	Label string // AUTOMATIC1111's label, written in "Schedule type: ..."
}

// scheduleTypes lists the schedule types in AUTOMATIC1111's order
// (modules/sd_schedulers.py).
var scheduleTypes = []ScheduleType{
	{"automatic", "Automatic"},
	{"uniform", "Uniform"},
	{"karras", "Karras"},
	{"exponential", "Exponential"},
	{"polyexponential", "Polyexponential"},
	{"sgm_uniform", "SGM Uniform"},
	{"kl_optimal", "KL Optimal"},
	{"align_your_steps", "Align Your Steps"},
	{"simple", "Simple"},
	{"normal", "Normal"},
	{"ddim", "DDIM"},
	{"beta", "Beta"},
}

// ScheduleTypes returns the schedule types Kata offers, in AUTOMATIC1111's
// order, "automatic" first.
func ScheduleTypes() []ScheduleType { return append([]ScheduleType(nil), scheduleTypes...) }

// CanonicalSchedule returns the schedule id for an id or AUTOMATIC1111
// label (case-insensitive; "SGMUniform" too); "" means "automatic".
func CanonicalSchedule(name string) (string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "" || n == "sgmuniform" {
		if n == "" {
			return "automatic", true
		}
		return "sgm_uniform", true
	}
	for _, s := range scheduleTypes {
		if n == s.ID || n == strings.ToLower(s.Label) {
			return s.ID, true
		}
	}
	return "", false
}

// ScheduleLabel returns AUTOMATIC1111's label of a schedule id ("" for an
// unknown id).
func ScheduleLabel(id string) string {
	for _, s := range scheduleTypes {
		if s.ID == id {
			return s.Label
		}
	}
	return ""
}

// alignYourSteps are NVIDIA's "Align Your Steps" noise levels for SD 1.5
// (11 levels), as AUTOMATIC1111 ships them.
var alignYourSteps = []float64{14.615, 6.475, 3.861, 2.697, 1.886, 1.396, 0.963, 0.652, 0.399, 0.152, 0.029}

// discrete is k-diffusion's DiscreteSchedule over the training sigmas
// (ascending float32, as CompVisDenoiser holds them): conversions between a
// noise level and a fractional timestep by interpolation in log sigma.
type discrete struct {
	sigmas, logSigmas []float32
}

func newDiscrete(sched *Schedule) *discrete {
	s := sched.Sigmas()
	return &discrete{sigmas: s, logSigmas: logSigmas(s)}
}

func (d *discrete) min() float64 { return float64(d.sigmas[0]) }
func (d *discrete) max() float64 { return float64(d.sigmas[len(d.sigmas)-1]) }

// tToSigma is t_to_sigma: exp of the log sigmas interpolated linearly at t.
func (d *discrete) tToSigma(t float64) float64 {
	last := len(d.logSigmas) - 1
	t = math.Min(math.Max(t, 0), float64(last))
	lo := int(math.Floor(t))
	hi := min(lo+1, last)
	w := t - float64(lo)
	return math.Exp((1-w)*float64(d.logSigmas[lo]) + w*float64(d.logSigmas[hi]))
}

func (d *discrete) sigmaToT(sigma float64) float64 { return sigmaToT(sigma, d.logSigmas) }

// scheduleSigmas returns the n+1 noise levels of schedule id for n steps,
// from the largest down, as AUTOMATIC1111's scheduler functions make them
// (all but KL Optimal end with 0; KL Optimal ends at the smallest training
// sigma, as AUTOMATIC1111's does).
func scheduleSigmas(id string, n int, d *discrete) ([]float64, error) {
	if n < 1 {
		return nil, fmt.Errorf("scheduler: %d steps", n)
	}
	lo, hi := d.min(), d.max()
	var out []float64
	switch id {
	case "uniform":
		// get_sigmas(n): t = linspace(t_max, 0, n)
		for _, t := range numpyLinspace(float64(len(d.sigmas)-1), 0, n) {
			out = append(out, d.tToSigma(t))
		}
	case "karras":
		out = KarrasSigmas(lo, hi, n)
	case "exponential", "polyexponential":
		// get_sigmas_exponential, and get_sigmas_polyexponential with
		// AUTOMATIC1111's rho 1, which is the same ramp.
		for _, r := range numpyLinspace(1, 0, n) {
			out = append(out, math.Exp(r*(math.Log(hi)-math.Log(lo))+math.Log(lo)))
		}
	case "sgm_uniform", "normal":
		// timesteps linspace(t(σmax), t(σmin), n+1)[:-1] (SGM) or n points (normal)
		m := n
		if id == "sgm_uniform" {
			m = n + 1
		}
		ts := numpyLinspace(d.sigmaToT(hi), d.sigmaToT(lo), m)
		for _, t := range ts[:n] {
			out = append(out, d.tToSigma(t))
		}
	case "kl_optimal":
		amin, amax := math.Atan(lo), math.Atan(hi)
		for i := 0; i <= n; i++ {
			f := float64(i) / float64(n)
			out = append(out, math.Tan(f*amin+(1-f)*amax))
		}
		return out, nil
	case "align_your_steps":
		out = logLinearInterp(alignYourSteps, n)
	case "simple":
		ss := float64(len(d.sigmas)) / float64(n)
		for x := range n {
			out = append(out, float64(d.sigmas[len(d.sigmas)-1-int(float64(x)*ss)]))
		}
	case "ddim":
		ss := max(len(d.sigmas)/n, 1)
		for x := 1; x < len(d.sigmas); x += ss {
			out = append(out, float64(d.sigmas[x]))
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case "beta":
		return betaSigmas(n, lo, hi, BetaScheduleAlpha, BetaScheduleBeta), nil
	default:
		return nil, fmt.Errorf("scheduler: unknown schedule type %q", id)
	}
	return append(out, 0), nil
}

// logLinearInterp resamples decreasing levels to n values by linear
// interpolation of their logs on [0, 1] (AUTOMATIC1111's loglinear_interp).
func logLinearInterp(levels []float64, n int) []float64 {
	if n == len(levels) {
		return append([]float64(nil), levels...)
	}
	m := len(levels)
	out := make([]float64, n)
	for i, x := range numpyLinspace(0, 1, n) {
		// position in the reversed (increasing) sequence
		p := x * float64(m-1)
		j := min(int(math.Floor(p)), m-2)
		w := p - float64(j)
		a, b := math.Log(levels[m-1-j]), math.Log(levels[m-2-j])
		out[n-1-i] = math.Exp(a + w*(b-a))
	}
	return out
}
