package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// KDiffusion runs the samplers of Katherine Crowson's k-diffusion
// (k_diffusion/sampling.py), which AUTOMATIC1111 uses, on any schedule
// type: "euler", "euler_a", "heun", "dpm2", "dpm2_a", "lms", "dpmpp_2m",
// "dpmpp_2s_a",
// "dpmpp_sde", "dpmpp_2m_sde" (midpoint solver) and "dpmpp_2m_sde_heun"
// (η = 1, s_noise = 1). Samples
// are variance exploding (x = x0 + σ ε), start as noise times σ_max, and
// reach the model as x / sqrt(σ²+1) at the fractional timestep t(σ).
//
// Second-order methods (Heun, DPM2, DPM2 a, DPM++ 2S a, DPM++ SDE) evaluate the model
// twice per step (except at the last step, which is an Euler step): Len and
// Timesteps count model evaluations, so a Heun run of 20 steps has 39, as
// in AUTOMATIC1111; the sample Step returns after a step's first evaluation
// is the point of the second one. The stochastic methods draw their noise
// from the rng passed to Step. k-diffusion's SDE samplers take Brownian-tree
// noise: the same in distribution as independent normals for one draw per
// step; DPM++ SDE's two draws per step are made as the two nested Brownian
// increments they are. The values differ from AUTOMATIC1111's (torchsde's
// tree from the seed), the distribution does not.
type KDiffusion struct {
	cfg              Config
	method, schedule string // schedule as asked for ("automatic" or an id)
	resolved         string // the schedule type the sigmas follow
	sigmas           []float64
	evals            []kEval
	timesteps        []float64

	// state of the current step and history
	xStart, denoised []float32
	d                []float64
	noise            []float64   // DPM++ SDE: the first evaluation's unit noise
	ds               [][]float64 // LMS: derivatives of the last steps, newest last
	prev             []float32   // DPM++ 2M (SDE): previous step's denoised
	prevStep         int
	hLast            float64
}

type kEval struct {
	step, stage int
	sigma       float64
}

// kMethods lists the k-diffusion methods with the schedule type their
// "Automatic" means in AUTOMATIC1111 (samplers_k_diffusion's 'scheduler'
// option; none means k-diffusion's own spacing, "uniform"), and whether
// AUTOMATIC1111 drops the next-to-last sigma.
var kMethods = map[string]struct {
	automatic   string
	discardNext bool
}{
	"euler": {"uniform", false}, "euler_a": {"uniform", false}, "heun": {"uniform", false},
	"lms": {"uniform", false}, "dpm2": {"karras", true}, "dpm2_a": {"karras", true},
	"dpmpp_2m": {"karras", false}, "dpmpp_sde": {"karras", false}, "dpmpp_2m_sde": {"exponential", false},
	"dpmpp_2m_sde_heun": {"exponential", false}, "dpmpp_2s_a": {"karras", false},
}

// NewKDiffusion builds k-diffusion's method on schedule type schedule (an
// id of ScheduleTypes; "automatic" or "" picks the method's
// AUTOMATIC1111 default) for steps steps over cfg's training schedule.
func NewKDiffusion(cfg Config, method, schedule string, steps int) (*KDiffusion, error) {
	m, ok := kMethods[method]
	if !ok {
		return nil, fmt.Errorf("scheduler: unknown k-diffusion method %q", method)
	}
	if schedule == "" {
		schedule = "automatic"
	}
	resolved := schedule
	if schedule == "automatic" {
		resolved = m.automatic
	}
	if cfg.PredictionType == "sample" {
		return nil, fmt.Errorf("scheduler %s: prediction_type \"sample\" is not supported by k-diffusion samplers", method)
	}
	sched, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	if steps < 1 || steps > sched.NumTrain() {
		return nil, fmt.Errorf("scheduler: %d steps outside [1, %d]", steps, sched.NumTrain())
	}
	d := newDiscrete(sched)
	n := steps
	if m.discardNext {
		n++
	}
	sigmas, err := scheduleSigmas(resolved, n, d)
	if err != nil {
		return nil, err
	}
	if m.discardNext && len(sigmas) > 2 {
		sigmas = append(sigmas[:len(sigmas)-2], sigmas[len(sigmas)-1])
	}
	k := &KDiffusion{cfg: cfg, method: method, schedule: schedule, resolved: resolved, sigmas: sigmas, prevStep: -2}
	for i := 0; i+1 < len(sigmas); i++ {
		k.evals = append(k.evals, kEval{i, 0, sigmas[i]})
		if mid, ok := k.secondSigma(i); ok {
			k.evals = append(k.evals, kEval{i, 1, mid})
		}
	}
	for _, e := range k.evals {
		k.timesteps = append(k.timesteps, d.sigmaToT(e.sigma))
	}
	return k, nil
}

// secondSigma returns the noise level of step i's second model evaluation,
// if the method makes one there.
func (k *KDiffusion) secondSigma(i int) (float64, bool) {
	s, next := k.sigmas[i], k.sigmas[i+1]
	if next == 0 {
		return 0, false
	}
	switch k.method {
	case "heun":
		return next, true
	case "dpm2":
		return math.Exp((math.Log(s) + math.Log(next)) / 2), true
	case "dpm2_a":
		down, _ := ancestral(s, next)
		return math.Exp((math.Log(s) + math.Log(down)) / 2), true
	case "dpmpp_sde":
		return math.Sqrt(s * next), true // σ(t + h/2) with t = -log σ
	case "dpmpp_2s_a":
		down, _ := ancestral(s, next)
		return math.Sqrt(s * down), true
	}
	return 0, false
}

// Name returns the method id, followed by "_" and the schedule id unless
// the schedule is "automatic" ("heun", "dpmpp_sde_karras").
func (k *KDiffusion) Name() string {
	if k.schedule == "automatic" {
		return k.method
	}
	return k.method + "_" + k.schedule
}

// Method returns the k-diffusion method id ("heun").
func (k *KDiffusion) Method() string { return k.method }

// ScheduleType returns the schedule type the noise levels follow, with
// "automatic" resolved ("karras" for DPM++ SDE).
func (k *KDiffusion) ScheduleType() string { return k.resolved }

// Len returns the number of model evaluations.
func (k *KDiffusion) Len() int { return len(k.evals) }

// Steps returns the number of sampler steps (Len minus the second
// evaluations).
func (k *KDiffusion) Steps() int { return len(k.sigmas) - 1 }

// FirstEval returns the evaluation index at which step starts.
func (k *KDiffusion) FirstEval(step int) int {
	for i, e := range k.evals {
		if e.step == step && e.stage == 0 {
			return i
		}
	}
	return len(k.evals)
}

// Sigmas returns the noise level of each step plus the final one (0, or
// σ_min for KL Optimal).
func (k *KDiffusion) Sigmas() []float64 { return slices.Clone(k.sigmas) }

// EvalSigmas returns the noise level of each model evaluation.
func (k *KDiffusion) EvalSigmas() []float64 {
	out := make([]float64, len(k.evals))
	for i, e := range k.evals {
		out[i] = e.sigma
	}
	return out
}

// Timesteps returns the fractional model timestep of each evaluation.
func (k *KDiffusion) Timesteps() []float64 { return slices.Clone(k.timesteps) }

// InitNoiseSigma is σ_max, the first noise level (k-diffusion's x = noise σ₀).
func (k *KDiffusion) InitNoiseSigma() float64 { return k.sigmas[0] }

// ScaleModelInput returns x / sqrt(σ²+1) for evaluation i's σ.
func (k *KDiffusion) ScaleModelInput(x []float32, i int) []float32 {
	return veScaleInput(x, k.evals[min(max(i, 0), len(k.evals)-1)].sigma)
}

// Reset forgets the step state and multistep history.
func (k *KDiffusion) Reset() {
	k.xStart, k.denoised, k.d, k.noise, k.ds, k.prev, k.prevStep, k.hLast = nil, nil, nil, nil, nil, nil, -2, 0
}

// PredictOriginal returns the denoised estimate at evaluation i.
func (k *KDiffusion) PredictOriginal(modelOut []float32, i int, x []float32) ([]float32, error) {
	if err := checkStep(k.Name(), i, k.Len(), len(x), len(modelOut)); err != nil {
		return nil, err
	}
	return veX0(k.cfg.PredictionType, k.evals[i].sigma, modelOut, x), nil
}

// AddNoise returns x0 + σ noise at the level where evaluation i's step
// starts; i must be the first evaluation of a step (see FirstEval).
func (k *KDiffusion) AddNoise(x0, noise []float32, i int) ([]float32, error) {
	if err := checkStep(k.Name(), i, k.Len(), len(x0), len(noise)); err != nil {
		return nil, err
	}
	if k.evals[i].stage != 0 {
		return nil, fmt.Errorf("scheduler %s: evaluation %d is the second of step %d, not a step start", k.Name(), i, k.evals[i].step)
	}
	return veNoised(x0, noise, k.evals[i].sigma), nil
}

func (k *KDiffusion) stochastic() bool {
	switch k.method {
	case "euler_a", "dpm2_a", "dpmpp_2s_a", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun":
		return true
	}
	return false
}

// Step advances from evaluation i given the model output for x (see the
// type's comment for second-order methods).
func (k *KDiffusion) Step(modelOut []float32, i int, x []float32, rng *rand.Rand) ([]float32, error) {
	den, err := k.PredictOriginal(modelOut, i, x)
	if err != nil {
		return nil, err
	}
	if k.stochastic() && rng == nil {
		return nil, fmt.Errorf("scheduler %s: a random source is required", k.Name())
	}
	e := k.evals[i]
	if e.stage == 1 {
		if k.xStart == nil || len(k.xStart) != len(x) {
			return nil, fmt.Errorf("scheduler %s: evaluation %d without the first evaluation of step %d", k.Name(), i, e.step)
		}
		return k.second(den, e, x, rng), nil
	}
	s, next := k.sigmas[e.step], k.sigmas[e.step+1]
	d := derivative(x, den, s)
	out := make([]float32, len(x))
	euler := func(to float64) {
		for j := range x {
			out[j] = float32(float64(x[j]) + d[j]*(to-s))
		}
	}
	addNoise := func(scale float64) {
		if scale > 0 {
			for j := range out {
				out[j] += float32(scale * rng.NormFloat64())
			}
		}
	}
	twoStage := i+1 < len(k.evals) && k.evals[i+1].step == e.step
	if twoStage {
		k.xStart, k.denoised, k.d = slices.Clone(x), den, d
	}
	switch k.method {
	case "euler", "heun", "dpm2":
		if twoStage {
			euler(k.evals[i+1].sigma)
		} else {
			euler(next)
		}
	case "euler_a", "dpm2_a":
		down, up := ancestral(s, next)
		if twoStage {
			euler(k.evals[i+1].sigma)
		} else {
			euler(down)
			addNoise(up)
		}
	case "dpmpp_2s_a":
		if !twoStage {
			down, up := ancestral(s, next)
			euler(down)
			addNoise(up)
			break
		}
		// DPM-Solver++(2S) half step to σ_m = sqrt(σ σ_down)
		mid := k.evals[i+1].sigma
		for j := range x {
			out[j] = float32(mid/s*float64(x[j]) - (mid/s-1)*float64(den[j]))
		}
	case "dpmpp_sde":
		if !twoStage {
			euler(next)
			break
		}
		down, up := ancestral(s, k.evals[i+1].sigma)
		k.noise = make([]float64, len(x))
		for j := range x {
			k.noise[j] = rng.NormFloat64()
			out[j] = float32(down/s*float64(x[j])-(down/s-1)*float64(den[j])) + float32(up*k.noise[j])
		}
	case "lms":
		k.ds = append(k.ds, d)
		if len(k.ds) > 4 {
			k.ds = k.ds[1:]
		}
		order := len(k.ds)
		coeffs := make([]float64, order)
		for jj := range order {
			coeffs[jj] = lmsCoefficient(order, k.sigmas, e.step, jj)
		}
		for j := range out {
			var sum float64
			for jj, c := range coeffs {
				sum += c * k.ds[order-1-jj][j]
			}
			out[j] = float32(float64(x[j]) + sum)
		}
	case "dpmpp_2m":
		k.dpmpp2m(den, e.step, x, out)
	case "dpmpp_2m_sde", "dpmpp_2m_sde_heun":
		k.dpmpp2mSDE(den, e.step, x, out, rng)
	}
	return out, nil
}

// second finishes a two-evaluation step from the stored start sample.
func (k *KDiffusion) second(den2 []float32, e kEval, x2 []float32, rng *rand.Rand) []float32 {
	s, next := k.sigmas[e.step], k.sigmas[e.step+1]
	mid := e.sigma
	out := make([]float32, len(x2))
	switch k.method {
	case "heun":
		for j := range out {
			d2 := (float64(x2[j]) - float64(den2[j])) / next
			out[j] = float32(float64(k.xStart[j]) + (k.d[j]+d2)/2*(next-s))
		}
	case "dpm2":
		for j := range out {
			d2 := (float64(x2[j]) - float64(den2[j])) / mid
			out[j] = float32(float64(k.xStart[j]) + d2*(next-s))
		}
	case "dpm2_a":
		down, up := ancestral(s, next)
		for j := range out {
			d2 := (float64(x2[j]) - float64(den2[j])) / mid
			out[j] = float32(float64(k.xStart[j])+d2*(down-s)) + float32(up*rng.NormFloat64())
		}
	case "dpmpp_2s_a":
		down, up := ancestral(s, next)
		for j := range out {
			out[j] = float32(down/s*float64(k.xStart[j])-(down/s-1)*float64(den2[j])) + float32(up*rng.NormFloat64())
		}
	case "dpmpp_sde":
		// r = 1/2, so fac = 1/(2r) = 1 and the combined denoised is den2.
		// The noise is the Brownian increment over [σ', σ] normalised,
		// which contains the first evaluation's increment over [σ_mid, σ]
		// (k-diffusion's BrownianTreeNoiseSampler, in distribution).
		down, up := ancestral(s, next)
		a, b := math.Sqrt(s-mid), math.Sqrt(mid-next)
		for j := range out {
			n := (a*k.noise[j] + b*rng.NormFloat64()) / math.Sqrt(s-next)
			out[j] = float32(down/s*float64(k.xStart[j])-(down/s-1)*float64(den2[j])) + float32(up*n)
		}
	}
	k.xStart, k.denoised, k.d, k.noise = nil, nil, nil, nil
	return out
}

// dpmpp2m is sample_dpmpp_2m's step i.
func (k *KDiffusion) dpmpp2m(den []float32, i int, x, out []float32) {
	s, next := k.sigmas[i], k.sigmas[i+1]
	useOld := k.prev != nil && k.prevStep == i-1 && next != 0
	switch {
	case next == 0:
		copy(out, den)
	case !useOld:
		h := math.Log(s) - math.Log(next)
		for j := range x {
			out[j] = float32(next/s*float64(x[j]) - math.Expm1(-h)*float64(den[j]))
		}
	default:
		h := math.Log(s) - math.Log(next)
		hLast := math.Log(k.sigmas[i-1]) - math.Log(s)
		r := hLast / h
		for j := range x {
			dd := (1+1/(2*r))*float64(den[j]) - 1/(2*r)*float64(k.prev[j])
			out[j] = float32(next/s*float64(x[j]) - math.Expm1(-h)*dd)
		}
	}
	k.prev, k.prevStep = den, i
}

// dpmpp2mSDE is sample_dpmpp_2m_sde's step i (η = 1; solver "midpoint",
// or "heun" for DPM++ 2M SDE Heun).
func (k *KDiffusion) dpmpp2mSDE(den []float32, i int, x, out []float32, rng *rand.Rand) {
	s, next := k.sigmas[i], k.sigmas[i+1]
	if next == 0 {
		copy(out, den)
	} else {
		h := math.Log(s) - math.Log(next)
		a := next / s * math.Exp(-h)
		b := -math.Expm1(-2 * h)
		useOld := k.prev != nil && k.prevStep == i-1
		noise := next * math.Sqrt(-math.Expm1(-2*h))
		for j := range x {
			v := a*float64(x[j]) + b*float64(den[j])
			if useOld {
				r := k.hLast / h
				c := 0.5 * b // midpoint
				if k.method == "dpmpp_2m_sde_heun" {
					c = b/(-2*h) + 1
				}
				v += c * (1 / r) * (float64(den[j]) - float64(k.prev[j]))
			}
			out[j] = float32(v + noise*rng.NormFloat64())
		}
		k.hLast = h
	}
	k.prev, k.prevStep = den, i
}

// gaussLegendre4 are the nodes and weights of 4-point Gauss-Legendre
// quadrature on [-1, 1], exact for polynomials up to degree 7.
var gaussLegendre4 = [4][2]float64{
	{-0.8611363115940526, 0.3478548451374538},
	{-0.3399810435848563, 0.6521451548625461},
	{0.3399810435848563, 0.6521451548625461},
	{0.8611363115940526, 0.3478548451374538},
}

// lmsCoefficient is k-diffusion's linear_multistep_coeff: the integral over
// [σ_i, σ_{i+1}] of the Lagrange basis polynomial of σ_{i-j} on the nodes
// σ_i, ..., σ_{i-order+1} (a polynomial, integrated exactly here).
func lmsCoefficient(order int, t []float64, i, j int) float64 {
	basis := func(tau float64) float64 {
		p := 1.0
		for k := range order {
			if k != j {
				p *= (tau - t[i-k]) / (t[i-j] - t[i-k])
			}
		}
		return p
	}
	a, b := t[i], t[i+1]
	var sum float64
	for _, nw := range gaussLegendre4 {
		sum += nw[1] * basis((b-a)/2*nw[0]+(a+b)/2)
	}
	return sum * (b - a) / 2
}
