package scheduler

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// UniPC is the unified predictor-corrector sampler of Zhao et al. (2023)
// with AUTOMATIC1111's default settings: data (x0) prediction, order 3,
// variant "bh1", "time_uniform" steps and lower-order final steps
// (modules/models/diffusion/uni_pc). It works on variance-preserving
// samples x = α x0 + σ ε (starting noise of standard deviation 1, fed to
// the model unscaled) over the discrete schedule seen as continuous time t
// in [1/N, 1]: log α(t) interpolates ½ log ᾱ linearly, and the model gets
// the fractional timestep 1000 (t - 1/N) (N = 1000 training steps).
//
// Each Step first corrects the current sample with the model output just
// computed at it (UniC), then predicts the next one (UniP) from up to
// Order previous outputs. The last step is not corrected, as in the
// original. Len model evaluations reach time 1/N, not 0: the result is at
// the noise level of training timestep 0, like DDIM's.
type UniPC struct {
	cfg       Config
	order     int
	bh2       bool
	times     []float64 // continuous times t_0 > ... > t_N
	timesteps []float64 // model timesteps of t_0..t_{N-1}
	logAlpha  []float64 // ½ log ᾱ on the grid t = (i+1)/N

	// history: times and x0 predictions of the last evaluations, newest last
	histT []float64
	histM [][]float32
	// the corrected sample at the previous step and the order of its update
	prevX     []float32
	prevOrder int
	prevStep  int
}

// NewUniPC builds UniPC for steps steps over cfg's training schedule, with
// AUTOMATIC1111's defaults (order 3, variant "bh1").
func NewUniPC(cfg Config, steps int) (*UniPC, error) {
	return NewUniPCVariant(cfg, steps, 3, "bh1")
}

// NewUniPCVariant builds UniPC of the given order (1 to 3) and variant
// ("bh1": B(h) = h, AUTOMATIC1111's default; "bh2": B(h) = e^h - 1,
// diffusers' default).
func NewUniPCVariant(cfg Config, steps, order int, variant string) (*UniPC, error) {
	if order < 1 || order > 3 {
		return nil, fmt.Errorf("scheduler unipc: order %d outside 1..3", order)
	}
	if variant != "bh1" && variant != "bh2" {
		return nil, fmt.Errorf("scheduler unipc: variant %q (want bh1 or bh2)", variant)
	}
	sched, err := NewSchedule(cfg)
	if err != nil {
		return nil, err
	}
	n := sched.NumTrain()
	if steps < 1 || steps > n {
		return nil, fmt.Errorf("scheduler: %d steps outside [1, %d]", steps, n)
	}
	u := &UniPC{cfg: cfg, order: order, bh2: variant == "bh2", logAlpha: make([]float64, n), prevStep: -2}
	for i, ac := range sched.AlphasCumprod {
		u.logAlpha[i] = 0.5 * math.Log(float64(ac))
	}
	u.times = numpyLinspace(1, 1/float64(n), steps+1)
	for _, t := range u.times[:steps] {
		u.timesteps = append(u.timesteps, (t-1/float64(n))*float64(n))
	}
	return u, nil
}

// Name returns "unipc".
func (u *UniPC) Name() string { return "unipc" }

// Len returns the number of steps (one model evaluation each).
func (u *UniPC) Len() int { return len(u.timesteps) }

// Timesteps returns the fractional model timesteps, 999 down to about 0.
func (u *UniPC) Timesteps() []float64 { return slices.Clone(u.timesteps) }

// InitNoiseSigma is 1.
func (u *UniPC) InitNoiseSigma() float64 { return 1 }

// ScaleModelInput returns a copy of x (no scaling).
func (u *UniPC) ScaleModelInput(x []float32, i int) []float32 { return slices.Clone(x) }

// Reset forgets the history.
func (u *UniPC) Reset() {
	u.histT, u.histM, u.prevX, u.prevOrder, u.prevStep = nil, nil, nil, 0, -2
}

// coeffs returns α, σ and λ = log(α/σ) at continuous time t.
func (u *UniPC) coeffs(t float64) (alpha, sigma, lambda float64) {
	n := len(u.logAlpha)
	p := t*float64(n) - 1 // grid index: t = (i+1)/n
	var la float64
	switch {
	case p <= 0:
		la = u.logAlpha[0]
	case p >= float64(n-1):
		la = u.logAlpha[n-1]
	default:
		j := int(math.Floor(p))
		w := p - float64(j)
		la = (1-w)*u.logAlpha[j] + w*u.logAlpha[j+1]
	}
	alpha = math.Exp(la)
	sigma = math.Sqrt(-math.Expm1(2 * la))
	return alpha, sigma, la - math.Log(sigma)
}

// PredictOriginal returns the x0 prediction at step i.
func (u *UniPC) PredictOriginal(modelOut []float32, i int, x []float32) ([]float32, error) {
	if err := checkStep(u.Name(), i, u.Len(), len(x), len(modelOut)); err != nil {
		return nil, err
	}
	a, s, _ := u.coeffs(u.times[i])
	out := make([]float32, len(x))
	predictX0(u.cfg.PredictionType, a, s, out, x, modelOut)
	return out, nil
}

// AddNoise returns α_i x0 + σ_i noise at step i's time.
func (u *UniPC) AddNoise(x0, noise []float32, i int) ([]float32, error) {
	if err := checkStep(u.Name(), i, u.Len(), len(x0), len(noise)); err != nil {
		return nil, err
	}
	a, s, _ := u.coeffs(u.times[i])
	out := make([]float32, len(x0))
	for j := range x0 {
		out[j] = float32(a*float64(x0[j]) + s*float64(noise[j]))
	}
	return out, nil
}

// Step corrects the sample at step i with the model output there (from
// the second step on), then predicts the sample at step i+1.
func (u *UniPC) Step(modelOut []float32, i int, x []float32, _ *rand.Rand) ([]float32, error) {
	m, err := u.PredictOriginal(modelOut, i, x)
	if err != nil {
		return nil, err
	}
	xc := x
	switch {
	case i == 0 || u.prevStep < 0:
		// a new image (image-to-image starts at a later step)
		u.histT, u.histM = nil, nil
	case u.prevStep != i-1:
		return nil, fmt.Errorf("scheduler unipc: step %d after step %d (Reset starts a new image)", i, u.prevStep)
	default:
		xc = u.update(u.prevX, u.times[i], u.prevOrder, m)
	}
	u.histT = append(u.histT, u.times[i])
	u.histM = append(u.histM, m)
	if len(u.histM) > u.order {
		u.histT, u.histM = u.histT[1:], u.histM[1:]
	}
	n := u.Len()
	o := min(u.order, n-i, len(u.histM))
	next := u.update(xc, u.times[i+1], o, nil)
	u.prevX, u.prevOrder, u.prevStep = xc, o, i
	return next, nil
}

// update is multistep_uni_pc_bh_update with data prediction: from sample x
// at the newest history time to time t with the given order, the
// predictor when modelT is nil, else the corrector using the x0 prediction
// modelT made at the predicted sample.
func (u *UniPC) update(x []float32, t float64, order int, modelT []float32) []float32 {
	// The corrector runs before the new output joins the history, so both
	// see the history the predictor of this transition saw.
	last := len(u.histM) - 1
	m0 := u.histM[last]
	_, sPrev, lPrev := u.coeffs(u.histT[last])
	aT, sT, lT := u.coeffs(t)
	h := lT - lPrev

	var rks []float64
	var d1s [][]float64
	for k := 1; k < order; k++ {
		mk := u.histM[last-k]
		_, _, lk := u.coeffs(u.histT[last-k])
		rk := (lk - lPrev) / h
		rks = append(rks, rk)
		d := make([]float64, len(x))
		for j := range d {
			d[j] = (float64(mk[j]) - float64(m0[j])) / rk
		}
		d1s = append(d1s, d)
	}
	rks = append(rks, 1)

	hh := -h
	hPhi1 := math.Expm1(hh)
	hPhiK := hPhi1/hh - 1
	bh := hh
	if u.bh2 {
		bh = math.Expm1(hh)
	}
	R := make([][]float64, order)
	b := make([]float64, order)
	fact := 1.0
	for i := 1; i <= order; i++ {
		R[i-1] = make([]float64, order)
		for k, rk := range rks {
			R[i-1][k] = math.Pow(rk, float64(i-1))
		}
		b[i-1] = hPhiK * fact / bh
		fact *= float64(i + 1)
		hPhiK = hPhiK/hh - 1/fact
	}

	out := make([]float32, len(x))
	base := func(j int) float64 { return sT/sPrev*float64(x[j]) - aT*hPhi1*float64(m0[j]) }
	if modelT == nil {
		var rho []float64
		switch {
		case len(d1s) == 0:
		case order == 2:
			rho = []float64{0.5}
		default:
			rho = solve(sub(R, order-1), b[:order-1])
		}
		for j := range out {
			var res float64
			for k, r := range rho {
				res += r * d1s[k][j]
			}
			out[j] = float32(base(j) - aT*bh*res)
		}
		return out
	}
	var rho []float64
	if order == 1 {
		rho = []float64{0.5}
	} else {
		rho = solve(R, b)
	}
	for j := range out {
		var res float64
		for k := range d1s {
			res += rho[k] * d1s[k][j]
		}
		res += rho[len(rho)-1] * (float64(modelT[j]) - float64(m0[j]))
		out[j] = float32(base(j) - aT*bh*res)
	}
	return out
}

// sub returns the leading n x n block of a.
func sub(a [][]float64, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range n {
		out[i] = a[i][:n]
	}
	return out
}

// solve returns x with a x = b by Gaussian elimination with partial
// pivoting (a is at most 3 x 3 here); a and b are not changed.
func solve(a [][]float64, b []float64) []float64 {
	n := len(b)
	m := make([][]float64, n)
	for i := range n {
		m[i] = append(slices.Clone(a[i][:n]), b[i])
	}
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[p][c]) {
				p = r
			}
		}
		m[c], m[p] = m[p], m[c]
		for r := c + 1; r < n; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k <= n; k++ {
				m[r][k] -= f * m[c][k]
			}
		}
	}
	x := make([]float64, n)
	for r := n - 1; r >= 0; r-- {
		s := m[r][n]
		for k := r + 1; k < n; k++ {
			s -= m[r][k] * x[k]
		}
		x[r] = s / m[r][r]
	}
	return x
}
