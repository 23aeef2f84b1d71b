package scheduler

import (
	"math"
	"testing"
)

// gaussDenoiser is the exact denoiser of Gaussian data x0 ~ N(0, s2) on
// variance-exploding samples: D(x, σ) = x s²/(s²+σ²).
func gaussDenoiser(s2 float64) func(xve, sigma float64) float64 {
	return func(xve, sigma float64) float64 { return xve * s2 / (s2 + sigma*sigma) }
}

// epsFor returns the ε-prediction that makes the sampler's denoised value
// at evaluation i equal D(x, σ_i).
func epsFor(k *KDiffusion, i int, x []float32, denoise func(xve, sigma float64) float64) []float32 {
	s := k.evals[i].sigma
	out := make([]float32, len(x))
	for j, v := range x {
		out[j] = float32((float64(v) - denoise(float64(v), s)) / s)
	}
	return out
}

func newK(t *testing.T, method, schedule string, steps int) *KDiffusion {
	t.Helper()
	k, err := NewKDiffusion(DefaultConfig(), method, schedule, steps)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// One step of each deterministic method from x = 3 on the Gaussian
// denoiser, against the closed forms of the k-diffusion update with
// D(x, σ) = c(σ) x, c(σ) = s²/(s²+σ²), so d(x, σ) = x (1-c(σ))/σ = x g(σ).
func TestKDiffusionOneStepByHand(t *testing.T) {
	const s2, x0 = 0.25, 3.0
	den := gaussDenoiser(s2)
	c := func(sig float64) float64 { return s2 / (s2 + sig*sig) }
	g := func(sig float64) float64 { return sig / (s2 + sig*sig) }
	for _, method := range []string{"euler", "heun", "dpm2", "lms", "dpmpp_2m"} {
		k := newK(t, method, "karras", 6)
		s, n := k.sigmas[0], k.sigmas[1]
		var want float64
		switch method {
		case "euler", "lms": // LMS of order 1 is Euler
			want = x0 + x0*g(s)*(n-s)
		case "heun":
			x2 := x0 + x0*g(s)*(n-s)
			want = x0 + (x0*g(s)+x2*g(n))/2*(n-s)
		case "dpm2":
			mid := math.Sqrt(s * n) // exp of the mean of the logs
			x2 := x0 + x0*g(s)*(mid-s)
			want = x0 + x2*g(mid)*(n-s)
		case "dpmpp_2m": // first step: x' = σ'/σ x - (e^{-h} - 1) D, h = log σ - log σ'
			want = n/s*x0 + (1-n/s)*c(s)*x0
		}
		x := []float32{x0}
		evals := 1
		if k.Len() > k.Steps() {
			evals = 2
		}
		for i := range evals {
			var err error
			if x, err = k.Step(epsFor(k, i, x, den), i, x, nil); err != nil {
				t.Fatal(err)
			}
		}
		if math.Abs(float64(x[0])-want) > 2e-6*math.Abs(want) {
			t.Errorf("%s: one step gives %.7g, by hand %.7g", method, x[0], want)
		}
	}
}

// The second step of DPM++ 2M and the second and third of LMS use the
// history: checked against the k-diffusion formulas written out for the
// linear denoiser.
func TestKDiffusionMultistepByHand(t *testing.T) {
	const s2, x0 = 0.25, 3.0
	den := gaussDenoiser(s2)
	c := func(sig float64) float64 { return s2 / (s2 + sig*sig) }
	g := func(sig float64) float64 { return sig / (s2 + sig*sig) }

	k := newK(t, "dpmpp_2m", "exponential", 5)
	sg := k.sigmas
	x1 := sg[1]/sg[0]*x0 + (1-sg[1]/sg[0])*c(sg[0])*x0
	h := math.Log(sg[1]) - math.Log(sg[2])
	r := (math.Log(sg[0]) - math.Log(sg[1])) / h
	dd := (1+1/(2*r))*c(sg[1])*x1 - 1/(2*r)*c(sg[0])*x0
	want := sg[2]/sg[1]*x1 - math.Expm1(-h)*dd
	x := []float32{x0}
	for i := range 2 {
		x, _ = k.Step(epsFor(k, i, x, den), i, x, nil)
	}
	if math.Abs(float64(x[0])-want) > 2e-6*math.Abs(want) {
		t.Errorf("dpmpp_2m step 2: %.7g, by hand %.7g", x[0], want)
	}

	// LMS order 2 at step 1: coefficients are the integrals over [σ1, σ2]
	// of the linear Lagrange basis on (σ1, σ0).
	l := newK(t, "lms", "uniform", 5)
	sg = l.sigmas
	a, b := sg[1], sg[2]
	c0 := ((b-sg[0])*(b-sg[0]) - (a-sg[0])*(a-sg[0])) / (2 * (a - sg[0])) // basis of σ1
	c1 := ((b-a)*(b-a) - 0) / (2 * (sg[0] - a))                           // basis of σ0
	y1 := x0 + x0*g(sg[0])*(sg[1]-sg[0])
	wantL := y1 + c0*y1*g(sg[1]) + c1*x0*g(sg[0])
	x = []float32{x0}
	for i := range 2 {
		x, _ = l.Step(epsFor(l, i, x, den), i, x, nil)
	}
	if math.Abs(float64(x[0])-wantL) > 2e-6*math.Abs(wantL) {
		t.Errorf("lms step 2: %.7g, by hand %.7g", x[0], wantL)
	}
}

func TestLMSCoefficients(t *testing.T) {
	ts := []float64{10, 6, 3, 1.5, 0.7, 0}
	// order 1: the step length
	if got := lmsCoefficient(1, ts, 2, 0); math.Abs(got-(ts[3]-ts[2])) > 1e-12 {
		t.Errorf("order 1: %g", got)
	}
	// the coefficients of any order sum to the step length (they integrate 1)
	for order := 1; order <= 4; order++ {
		i := 3
		var sum float64
		for j := range order {
			sum += lmsCoefficient(order, ts, i, j)
		}
		if math.Abs(sum-(ts[i+1]-ts[i])) > 1e-12 {
			t.Errorf("order %d: coefficients sum to %g, want %g", order, sum, ts[i+1]-ts[i])
		}
	}
	// order 4 integrates a cubic exactly: Σ_j c_j p(t_{i-j}) = ∫ p.
	p := func(x float64) float64 { return 2*x*x*x - x*x + 3 }
	P := func(x float64) float64 { return x*x*x*x/2 - x*x*x/3 + 3*x }
	var got float64
	for j := range 4 {
		got += lmsCoefficient(4, ts, 4, j) * p(ts[4-j])
	}
	if want := P(ts[5]) - P(ts[4]); math.Abs(got-want) > 1e-9 {
		t.Errorf("order 4 on a cubic: %g, want %g", got, want)
	}
}

// relErrK runs a deterministic k-diffusion sampler on the Gaussian ODE from
// x(σ₀) = 3 and returns the relative error against the exact solution
// x(0) = x(σ₀) s/sqrt(s²+σ₀²).
func relErrK(t *testing.T, method, schedule string, steps int) float64 {
	const s2 = 0.25
	den := gaussDenoiser(s2)
	k := newK(t, method, schedule, steps)
	x := []float32{3}
	for i := range k.Len() {
		var err error
		if x, err = k.Step(epsFor(k, i, x, den), i, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	s0 := k.sigmas[0]
	want := 3 * math.Sqrt(s2) / math.Sqrt(s2+s0*s0)
	return math.Abs(float64(x[0])-want) / want
}

// Deterministic samplers must approach the exact probability-flow ODE
// solution of Gaussian data, the higher-order ones faster than Euler. On
// the Uniform schedule (uniform in t) the last step before σ_min spans a
// large log-σ interval, which keeps every method near first order there.
func TestKDiffusionGaussianODE(t *testing.T) {
	errs := map[string]float64{}
	for _, method := range []string{"euler", "heun", "dpm2", "lms", "dpmpp_2m"} {
		for _, sched := range []string{"karras", "exponential", "uniform"} {
			e10, e40 := relErrK(t, method, sched, 10), relErrK(t, method, sched, 40)
			t.Logf("%s %s: relative error %.3g at 10 steps, %.3g at 40", method, sched, e10, e40)
			if !(e40 < e10/2) || e40 > 0.08 {
				t.Errorf("%s on %s does not converge: %g at 10 steps, %g at 40", method, sched, e10, e40)
			}
			if sched == "karras" {
				errs[method] = e40
			}
		}
	}
	for _, m := range []string{"heun", "dpm2", "lms", "dpmpp_2m"} {
		if !(errs[m] < errs["euler"]/4) || errs[m] > 0.005 {
			t.Errorf("%s (%g) is not clearly more accurate than Euler (%g) at 40 Karras steps", m, errs[m], errs["euler"])
		}
	}
}

// sampleGaussian runs a stochastic sampler on n independent samples of
// Gaussian data N(0, s2), started from N(0, s2+σ₀²), and returns the final
// mean and variance.
func sampleGaussian(t *testing.T, k *KDiffusion, s2 float64, n int) (float64, float64) {
	t.Helper()
	den := gaussDenoiser(s2)
	rng := NewRNG(11)
	x := Randn(rng, n)
	sd := math.Sqrt(s2 + k.sigmas[0]*k.sigmas[0])
	for j := range x {
		x[j] *= float32(sd)
	}
	for i := range k.Len() {
		var err error
		if x, err = k.Step(epsFor(k, i, x, den), i, x, rng); err != nil {
			t.Fatal(err)
		}
	}
	var mean, v float64
	for _, y := range x {
		mean += float64(y)
	}
	mean /= float64(n)
	for _, y := range x {
		v += (float64(y) - mean) * (float64(y) - mean)
	}
	return mean, v / float64(n-1)
}

// Stochastic samplers must draw from the data distribution. Euler a's
// final variance is known exactly for the linear denoiser (its recursion
// is linear: ancestralVariance) and must match it; the second-order
// stochastic samplers must end near the data variance already at 30 steps
// and closer at 150. 4096 samples: a variance's sampling error is ~2.2%.
func TestKDiffusionGaussianSDE(t *testing.T) {
	const s2, n = 0.25, 4096
	for _, sched := range []string{"automatic", "karras"} {
		k := newK(t, "euler_a", sched, 30)
		mean, v := sampleGaussian(t, k, s2, n)
		want := ancestralVariance(k.sigmas, s2)
		if math.Abs(v-want) > 0.08*want || math.Abs(mean) > 0.05 {
			t.Errorf("euler_a %s: mean %g variance %g, want 0 and %g", sched, mean, v, want)
		}
	}
	for _, method := range []string{"dpm2_a", "dpmpp_2s_a", "dpmpp_sde", "dpmpp_2m_sde", "dpmpp_2m_sde_heun"} {
		for _, c := range []struct {
			steps int
			tol   float64
		}{{30, 0.1}, {150, 0.06}} {
			k := newK(t, method, "automatic", c.steps)
			mean, v := sampleGaussian(t, k, s2, n)
			t.Logf("%s, %d steps: mean %.4f variance %.4f (want 0, %g)", method, c.steps, mean, v, s2)
			if math.Abs(v-s2) > c.tol*s2 || math.Abs(mean) > 0.05 {
				t.Errorf("%s, %d steps: final mean %g variance %g, want 0 and %g", method, c.steps, mean, v, s2)
			}
		}
		k := newK(t, method, "automatic", 5)
		if _, err := k.Step(make([]float32, 2), 0, make([]float32, 2), nil); err == nil {
			t.Errorf("%s: step without a random source accepted", method)
		}
	}
}

func TestKDiffusionEvaluations(t *testing.T) {
	cases := []struct {
		method, sched string
		steps         int
		evals         int
	}{
		{"heun", "automatic", 20, 39}, // A1111's Heun: 2 evaluations a step, 1 at the last
		{"dpm2", "automatic", 20, 39},
		{"dpm2_a", "karras", 10, 19},
		{"dpmpp_sde", "automatic", 10, 19},
		{"lms", "automatic", 20, 20},
		{"dpmpp_2m_sde", "automatic", 20, 20},
	}
	for _, c := range cases {
		k := newK(t, c.method, c.sched, c.steps)
		if k.Len() != c.evals || k.Steps() != c.steps || len(k.Timesteps()) != c.evals || len(k.Sigmas()) != c.steps+1 {
			t.Errorf("%s: %d evaluations, %d steps, %d sigmas; want %d, %d", c.method, k.Len(), k.Steps(), len(k.Sigmas()), c.evals, c.steps)
		}
		if k.InitNoiseSigma() != k.sigmas[0] {
			t.Errorf("%s: init sigma %g, want σ₀ %g", c.method, k.InitNoiseSigma(), k.sigmas[0])
		}
		ts := k.Timesteps()
		for i := 1; i < len(ts); i++ {
			// Heun evaluates step i's end and step i+1's start at one σ.
			if ts[i] > ts[i-1]+1e-9 {
				t.Errorf("%s: timesteps increase at %d: %v", c.method, i, ts)
				break
			}
		}
	}
	// DPM2 drops the next-to-last of steps+1 Karras sigmas, as A1111 does.
	k := newK(t, "dpm2", "automatic", 5)
	sched, _ := NewSchedule(DefaultConfig())
	d := newDiscrete(sched)
	full := KarrasSigmas(d.min(), d.max(), 6)
	want := append(append([]float64(nil), full[:5]...), 0)
	for i := range want {
		if math.Abs(k.sigmas[i]-want[i]) > 1e-12 {
			t.Errorf("dpm2 sigmas %v, want %v", k.sigmas, want)
			break
		}
	}
	// Heun's second evaluation of step 0 is at σ₁, DPM2's at sqrt(σ₀σ₁).
	h := newK(t, "heun", "karras", 4)
	if es := h.EvalSigmas(); es[1] != h.sigmas[1] || es[2] != h.sigmas[1] {
		t.Errorf("heun evaluation sigmas %v for steps %v", es, h.sigmas)
	}
	if es := k.EvalSigmas(); math.Abs(es[1]-math.Sqrt(k.sigmas[0]*k.sigmas[1])) > 1e-12 {
		t.Errorf("dpm2 midpoint %g, want %g", es[1], math.Sqrt(k.sigmas[0]*k.sigmas[1]))
	}
	// A second evaluation cannot start a step, nor run without its first.
	if _, err := h.AddNoise([]float32{1}, []float32{1}, 1); err == nil {
		t.Error("AddNoise at a second evaluation accepted")
	}
	h.Reset()
	if _, err := h.Step([]float32{0}, 1, []float32{1}, nil); err == nil {
		t.Error("second evaluation without the first accepted")
	}
	if _, err := NewKDiffusion(DefaultConfig(), "plms", "", 10); err == nil {
		t.Error("unknown method accepted")
	}
	if _, err := NewKDiffusion(DefaultConfig(), "heun", "cosine", 10); err == nil {
		t.Error("unknown schedule accepted")
	}
}

func TestImg2ImgStartCountsSteps(t *testing.T) {
	h := newK(t, "heun", "karras", 10) // 19 evaluations
	start, err := Img2ImgStart(h, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	// 5 of 10 steps run: the first evaluation of step 5 is index 10.
	if start != 10 || h.evals[start].step != 5 || h.evals[start].stage != 0 {
		t.Errorf("start %d (%+v)", start, h.evals[start])
	}
	if _, err := h.AddNoise([]float32{1}, []float32{1}, start); err != nil {
		t.Error(err)
	}
	// From there, with the image's own noise predicted, every multistep and
	// two-evaluation method lands on the image.
	x0 := []float32{0.5, -0.25}
	for _, method := range []string{"heun", "lms", "dpmpp_2m", "dpm2", "dpmpp_2m_sde"} {
		k := newK(t, method, "karras", 10)
		start, x, err := Img2ImgLatents(k, x0, 0.5, NewRNG(3))
		if err != nil {
			t.Fatal(err)
		}
		rng := NewRNG(4)
		for i := start; i < k.Len(); i++ {
			eps := make([]float32, len(x))
			for j := range x {
				eps[j] = float32((float64(x[j]) - float64(x0[j])) / k.evals[i].sigma)
			}
			if x, err = k.Step(eps, i, x, rng); err != nil {
				t.Fatal(err)
			}
		}
		if d := maxAbsDiff(x, x0); d > 1e-5 {
			t.Errorf("%s img2img: ends %g from the image", method, d)
		}
	}
}

// The stochastic updates by hand, with the noise drawn from a copy of the
// same random stream: DPM++ 2M SDE's first two steps (midpoint and Heun
// corrections), one DPM++ SDE step with its nested Brownian increments,
// and one Euler a step.
func TestKDiffusionStochasticByHand(t *testing.T) {
	const s2, x0 = 0.25, 3.0
	den := gaussDenoiser(s2)
	c := func(sig float64) float64 { return s2 / (s2 + sig*sig) }
	for _, method := range []string{"dpmpp_2m_sde", "dpmpp_2m_sde_heun"} {
		k := newK(t, method, "karras", 6)
		sg := k.sigmas
		ref := NewRNG(5)
		h0 := math.Log(sg[0]) - math.Log(sg[1])
		x1 := sg[1]/sg[0]*math.Exp(-h0)*x0 + -math.Expm1(-2*h0)*c(sg[0])*x0 + sg[1]*math.Sqrt(-math.Expm1(-2*h0))*ref.NormFloat64()
		h1 := math.Log(sg[1]) - math.Log(sg[2])
		b1 := -math.Expm1(-2 * h1)
		x2 := sg[2]/sg[1]*math.Exp(-h1)*x1 + b1*c(sg[1])*x1
		corr := 0.5 * b1
		if method == "dpmpp_2m_sde_heun" {
			corr = b1/(-2*h1) + 1
		}
		x2 += corr * (h1 / h0) * (c(sg[1])*x1 - c(sg[0])*x0)
		x2 += sg[2] * math.Sqrt(b1) * ref.NormFloat64()
		rng := NewRNG(5)
		x := []float32{x0}
		var err error
		if x, err = k.Step(epsFor(k, 0, x, den), 0, x, rng); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(x[0])-x1) > 1e-5 {
			t.Errorf("%s step 1: %.7g, by hand %.7g", method, x[0], x1)
		}
		x = []float32{float32(x1)}
		if x, err = k.Step(epsFor(k, 1, x, den), 1, x, rng); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(x[0])-x2) > 1e-5 {
			t.Errorf("%s step 2: %.7g, by hand %.7g", method, x[0], x2)
		}
	}

	// DPM++ SDE: to σ_m = sqrt(σσ') then to σ', each an ancestral
	// DPM-Solver++ step from σ; the second noise is the normalised sum of
	// the increments over [σ_m, σ] and [σ', σ_m].
	k := newK(t, "dpmpp_sde", "karras", 6)
	s, n := k.sigmas[0], k.sigmas[1]
	mid := math.Sqrt(s * n)
	anc := func(from, to float64) (float64, float64) {
		up := math.Sqrt(to * to * (from*from - to*to) / (from * from))
		return math.Sqrt(to*to - up*up), up
	}
	ref := NewRNG(9)
	z1, z2 := ref.NormFloat64(), ref.NormFloat64()
	d1, u1 := anc(s, mid)
	xm := d1/s*x0 - (d1/s-1)*c(s)*x0 + u1*z1
	d2, u2 := anc(s, n)
	noise := (math.Sqrt(s-mid)*z1 + math.Sqrt(mid-n)*z2) / math.Sqrt(s-n)
	want := d2/s*x0 - (d2/s-1)*c(mid)*xm + u2*noise
	rng := NewRNG(9)
	x := []float32{x0}
	x, _ = k.Step(epsFor(k, 0, x, den), 0, x, rng)
	if math.Abs(float64(x[0])-xm) > 1e-5 {
		t.Errorf("dpmpp_sde midpoint: %.7g, by hand %.7g", x[0], xm)
	}
	x = []float32{float32(xm)}
	x, _ = k.Step(epsFor(k, 1, x, den), 1, x, rng)
	if math.Abs(float64(x[0])-want) > 1e-5 {
		t.Errorf("dpmpp_sde step: %.7g, by hand %.7g", x[0], want)
	}

	// DPM++ 2S a: a DPM-Solver++ half step to σ_m = sqrt(σ σ_down), the
	// full step to σ_down with the denoised value there, then σ_up noise.
	a2 := newK(t, "dpmpp_2s_a", "karras", 6)
	s, n = a2.sigmas[0], a2.sigmas[1]
	dn, upn := anc(s, n)
	m2 := math.Sqrt(s * dn)
	xh := m2/s*x0 - (m2/s-1)*c(s)*x0
	ref = NewRNG(4)
	want2 := dn/s*x0 - (dn/s-1)*c(m2)*xh + upn*ref.NormFloat64()
	rng = NewRNG(4)
	x, _ = a2.Step(epsFor(a2, 0, []float32{x0}, den), 0, []float32{x0}, rng)
	if math.Abs(float64(x[0])-xh) > 1e-5 {
		t.Errorf("dpmpp_2s_a half step: %.7g, by hand %.7g", x[0], xh)
	}
	x = []float32{float32(xh)}
	x, _ = a2.Step(epsFor(a2, 1, x, den), 1, x, rng)
	if math.Abs(float64(x[0])-want2) > 1e-5 {
		t.Errorf("dpmpp_2s_a step: %.7g, by hand %.7g", x[0], want2)
	}

	// Euler a: Euler to σ_down, then σ_up noise.
	e := newK(t, "euler_a", "karras", 6)
	s, n = e.sigmas[0], e.sigmas[1]
	down, up := anc(s, n)
	ref = NewRNG(2)
	wantE := x0 + (x0-c(s)*x0)/s*(down-s) + up*ref.NormFloat64()
	x, _ = e.Step(epsFor(e, 0, []float32{x0}, den), 0, []float32{x0}, NewRNG(2))
	if math.Abs(float64(x[0])-wantE) > 1e-5 {
		t.Errorf("euler_a step: %.7g, by hand %.7g", x[0], wantE)
	}
}
