package scheduler

import (
	"math"
	"reflect"
	"testing"
)

func TestKarrasSigmas(t *testing.T) {
	const lo, hi = 0.0292, 14.6146
	s := KarrasSigmas(lo, hi, 3)
	mid := math.Pow((math.Pow(hi, 1.0/7)+math.Pow(lo, 1.0/7))/2, 7)
	want := []float64{hi, mid, lo}
	for i := range want {
		if math.Abs(s[i]-want[i]) > 1e-12*want[i] {
			t.Errorf("sigma[%d] = %.15g, want %.15g", i, s[i], want[i])
		}
	}
	long := KarrasSigmas(lo, hi, 25)
	for i := 1; i < len(long); i++ {
		if !(long[i] < long[i-1]) {
			t.Fatalf("not decreasing at %d: %v", i, long)
		}
	}
}

func TestTimestepsByHand(t *testing.T) {
	cfg := DefaultConfig()
	sched, err := NewSchedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	train := sched.Sigmas()

	eu, err := NewEuler(cfg, 4, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := eu.Timesteps(); !reflect.DeepEqual(got, []float64{751, 501, 251, 1}) {
		t.Errorf("euler timesteps %v", got)
	}
	sig := eu.Sigmas()
	for i, ts := range []int{751, 501, 251, 1} {
		if sig[i] != float64(train[ts]) {
			t.Errorf("euler sigma %d = %g, want σ(%d) = %g", i, sig[i], ts, train[ts])
		}
	}
	if sig[4] != 0 {
		t.Errorf("last sigma %g", sig[4])
	}
	if want := math.Sqrt(sig[0]*sig[0] + 1); eu.InitNoiseSigma() != want {
		t.Errorf("init sigma %g, want %g", eu.InitNoiseSigma(), want)
	}

	// Euler on Karras sigmas spans the spaced timesteps' sigmas (901..1 for 10 steps).
	ek, err := NewEuler(cfg, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	eks, ekt := ek.Sigmas(), ek.Timesteps()
	if eks[0] != float64(train[901]) || math.Abs(eks[9]-float64(train[1])) > 1e-7 || eks[10] != 0 ||
		math.Abs(ekt[0]-901) > 1e-3 || math.Abs(ekt[9]-1) > 1e-3 || ekt[4] == math.Round(ekt[4]) {
		t.Errorf("euler karras sigmas %v timesteps %v", eks, ekt)
	}

	// DPM-Solver spaces 21 points with stride 1000//21 = 47 and drops t=0.
	dpm, err := NewDPMPP2M(cfg, 20, false)
	if err != nil {
		t.Fatal(err)
	}
	ts := dpm.Timesteps()
	if len(ts) != 20 || ts[0] != 20*47+1 || ts[19] != 47+1 {
		t.Errorf("dpm timesteps %v", ts)
	}

	// Karras: from the largest to the smallest training sigma.
	k, err := NewDPMPP2M(cfg, 10, true)
	if err != nil {
		t.Fatal(err)
	}
	ks := k.Sigmas()
	if math.Abs(ks[0]-float64(train[999])) > 1e-6 || math.Abs(ks[9]-float64(train[0])) > 1e-7 || ks[10] != 0 {
		t.Errorf("karras sigmas %v (train %g..%g)", ks, train[0], train[999])
	}
	if kt := k.Timesteps(); kt[0] != 999 || kt[9] != 0 {
		t.Errorf("karras timesteps %v", kt)
	}
	if math.Abs(float64(train[999])-14.6146) > 1e-3 || math.Abs(float64(train[0])-0.0292) > 1e-4 {
		t.Errorf("SD sigma range %g..%g", train[0], train[999])
	}
}

func TestNewNames(t *testing.T) {
	cfg := DefaultConfig()
	for name, want := range map[string]string{
		"DDIM": "ddim", "Euler": "euler", "Euler a": "euler_a", "DPM++ 2M": "dpmpp_2m",
		"DPM++ 2M Karras": "dpmpp_2m_karras", "euler_a": "euler_a", "dpmpp_2m": "dpmpp_2m",
		"Euler Karras": "euler_karras",
	} {
		s, err := New(name, cfg, 10)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Name() != want || s.Len() != 10 || len(s.Timesteps()) != 10 {
			t.Errorf("%s: name %s len %d", name, s.Name(), s.Len())
		}
		if c, _ := CanonicalName(DisplayName(want)); c != want {
			t.Errorf("display name %q does not map back to %q", DisplayName(want), want)
		}
	}
	if _, err := New("plms", cfg, 10); err == nil {
		t.Error("unknown sampler accepted")
	}
	for _, steps := range []int{0, -1, 1001} {
		if _, err := New("ddim", cfg, steps); err == nil {
			t.Errorf("%d steps accepted", steps)
		}
	}
	if _, err := New("ddim", cfg, 1000); err == nil {
		t.Error("1000 leading steps with offset 1 reach timestep 1000 and must be refused")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, doc := range []string{
		`{`, `{"beta_schedule":"cosine"}`, `{"prediction_type":"x"}`, `{"timestep_spacing":"x"}`,
		`{"thresholding":true}`, `{"rescale_betas_zero_snr":true}`, `{"num_train_timesteps":1}`,
		`{"trained_betas":[0.5, 1.5]}`, `{"beta_start":0.5,"beta_end":0.1}`,
	} {
		if _, err := ParseConfig([]byte(doc)); err == nil {
			t.Errorf("%s accepted", doc)
		}
	}
	cfg, err := ParseConfig([]byte(`{"beta_schedule":"linear","beta_start":0.0001,"beta_end":0.02}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSchedule(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(s.Betas[0])-0.0001) > 1e-9 || math.Abs(float64(s.Betas[999])-0.02) > 1e-9 {
		t.Errorf("linear betas %g..%g", s.Betas[0], s.Betas[999])
	}
}

func TestAddNoise(t *testing.T) {
	s, err := NewSchedule(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	x0 := []float32{1, -2}
	noise := []float32{0.5, 3}
	got, err := s.AddNoise(x0, noise, 500)
	if err != nil {
		t.Fatal(err)
	}
	a := math.Sqrt(float64(s.AlphasCumprod[500]))
	b := math.Sqrt(1 - float64(s.AlphasCumprod[500]))
	for i := range x0 {
		if want := a*float64(x0[i]) + b*float64(noise[i]); math.Abs(float64(got[i])-want) > 1e-6 {
			t.Errorf("AddNoise[%d] = %g, want %g", i, got[i], want)
		}
	}
	if _, err := s.AddNoise(x0, noise, 1000); err == nil {
		t.Error("t=1000 accepted")
	}
	if _, err := s.AddNoise(x0, noise[:1], 10); err == nil {
		t.Error("length mismatch accepted")
	}
}

// sigmaAt returns the variance-exploding noise level at which step i of s
// evaluates the model, and whether the sampler's samples are variance
// preserving (x = α x0 + σ_vp ε) rather than variance exploding (x0 + σ ε).
func sigmaAt(t *testing.T, s Sampler, i int) (float64, bool) {
	switch v := s.(type) {
	case *DDIM:
		ac := float64(v.sched.AlphasCumprod[v.timesteps[i]])
		return math.Sqrt((1 - ac) / ac), true
	case *Euler:
		return v.sigmas[i], false
	case *DPMPP2M:
		return v.sigmas[i], true
	case *KDiffusion:
		return v.evals[i].sigma, false
	case *UniPC:
		a, s, _ := v.coeffs(v.times[i])
		return s / a, true
	}
	t.Fatalf("unknown sampler %T", s)
	return 0, false
}

// run drives s from x with an ε-predicting model built from a denoiser
// D(x_ve, σ) on variance-exploding samples.
func run(t *testing.T, s Sampler, x []float32, start int, denoise func(xve, sigma float64) float64) []float32 {
	t.Helper()
	s.Reset()
	rng := NewRNG(7)
	for i := start; i < s.Len(); i++ {
		sigma, vp := sigmaAt(t, s, i)
		alpha := 1.0
		if vp {
			alpha = 1 / math.Sqrt(sigma*sigma+1)
		}
		eps := make([]float32, len(x))
		for j, v := range x {
			xve := float64(v) / alpha
			eps[j] = float32((xve - denoise(xve, sigma)) / sigma)
		}
		var err error
		if x, err = s.Step(eps, i, x, rng); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// With a perfect denoiser (the model returns the true noise of a known x0)
// every deterministic sampler stays on the straight x0 + σ ε path and ends
// exactly at x0 (DDIM with set_alpha_to_one false ends at t=0's level).
func TestPerfectDenoiserRecoversX0(t *testing.T) {
	rng := NewRNG(1)
	const n = 64
	x0 := Randn(rng, n)
	eps := Randn(rng, n)
	for _, alphaToOne := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.SetAlphaToOne = alphaToOne
		for _, name := range Names() {
			s, err := New(name, cfg, 12)
			if err != nil {
				t.Fatal(err)
			}
			// Start from x0 noised with eps to the first step's level.
			x, err := s.AddNoise(x0, eps, 0)
			if err != nil {
				t.Fatal(err)
			}
			j := 0
			got := run(t, s, x, 0, func(xve, sigma float64) float64 {
				v := float64(x0[j%n])
				j++
				return v
			})
			want := x0
			// DDIM without set_alpha_to_one, and UniPC always, end at the
			// noise level of training timestep 0.
			if (name == "ddim" && !alphaToOne) || name == "unipc" {
				sched, _ := NewSchedule(cfg)
				a0 := float64(sched.AlphasCumprod[0])
				want = make([]float32, n)
				for k := range want {
					want[k] = float32(math.Sqrt(a0)*float64(x0[k]) + math.Sqrt(1-a0)*float64(eps[k]))
				}
			}
			if diff := maxAbsDiff(got, want); diff > 2e-5 {
				t.Errorf("%s (alpha_to_one %v): max |x - x0| %g", name, alphaToOne, diff)
			}
		}
	}
}

// For Gaussian data x0 ~ N(0, s²) the ideal denoiser is D(x, σ) = x s²/(s²+σ²)
// and the probability-flow ODE has the closed form
// x(σ) = x(σ₁) sqrt(s²+σ²)/sqrt(s²+σ₁²). Deterministic samplers must approach
// x(0), DPM++ 2M (second order) faster than Euler and DDIM (first order).
func TestGaussianODEConvergence(t *testing.T) {
	const s2 = 0.25
	denoise := func(xve, sigma float64) float64 { return xve * s2 / (s2 + sigma*sigma) }
	cfg := DefaultConfig()
	cfg.SetAlphaToOne = true
	relErr := func(name string, steps int) float64 {
		smp, err := New(name, cfg, steps)
		if err != nil {
			t.Fatal(err)
		}
		sigma1, vp := sigmaAt(t, smp, 0)
		xve := 3.0 // a point of the starting distribution
		x := float32(xve)
		if vp {
			x = float32(xve / math.Sqrt(sigma1*sigma1+1))
		}
		got := run(t, smp, []float32{x}, 0, denoise)
		want := xve * math.Sqrt(s2) / math.Sqrt(s2+sigma1*sigma1)
		return math.Abs(float64(got[0])-want) / math.Abs(want)
	}
	errs := map[string][2]float64{}
	for _, name := range []string{"ddim", "euler", "euler_karras", "dpmpp_2m", "dpmpp_2m_karras"} {
		e10, e40 := relErr(name, 10), relErr(name, 40)
		errs[name] = [2]float64{e10, e40}
		t.Logf("%s: relative error %.3g at 10 steps, %.3g at 40", name, e10, e40)
		// First-order error shrinks about 4x for 4x the steps; allow 2x.
		if !(e40 < e10/2) {
			t.Errorf("%s does not converge: %g at 10 steps, %g at 40", name, e10, e40)
		}
		if e40 > 0.08 {
			t.Errorf("%s: relative error %g at 40 steps", name, e40)
		}
	}
	if e := errs["dpmpp_2m_karras"][1]; e > 0.005 {
		t.Errorf("dpmpp_2m_karras: relative error %g at 40 steps", e)
	}
	if !(errs["dpmpp_2m_karras"][1] < errs["euler"][1] && errs["dpmpp_2m"][1] < errs["ddim"][1]) {
		t.Errorf("second-order DPM++ is not more accurate than first-order samplers: %v", errs)
	}
}

// Euler a must sample the data distribution: with Gaussian data N(0, s²) the
// final samples have variance s², and a seed reproduces them exactly.
func TestEulerAncestralSamplesDistribution(t *testing.T) {
	const s2, n = 0.25, 20000
	s, err := New("Euler a", DefaultConfig(), 30)
	if err != nil {
		t.Fatal(err)
	}
	x := InitialNoise(s, NewRNG(3), n)
	// Rescale the start to the exact marginal N(0, s²+σ₁²).
	sigma1, _ := sigmaAt(t, s, 0)
	scale := float32(math.Sqrt(s2+sigma1*sigma1) / s.InitNoiseSigma())
	for i := range x {
		x[i] *= scale
	}
	step := func(seed uint64) []float32 {
		rng := NewRNG(seed)
		y := append([]float32(nil), x...)
		for i := 0; i < s.Len(); i++ {
			sigma, _ := sigmaAt(t, s, i)
			eps := make([]float32, n)
			for j, v := range y {
				eps[j] = float32(float64(v) * sigma / (s2 + sigma*sigma))
			}
			if y, err = s.Step(eps, i, y, rng); err != nil {
				t.Fatal(err)
			}
		}
		return y
	}
	a, b, c := step(11), step(11), step(12)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed gave different samples")
	}
	if reflect.DeepEqual(a, c) {
		t.Error("different seeds gave the same samples")
	}
	var sum, sq float64
	for _, v := range a {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	mean := sum / n
	variance := sq/n - mean*mean
	// Each ancestral step maps the variance v to f² v + σ_up² with
	// f = 1 + (σ_down - σ) σ/(s²+σ²); with 30 steps the result is still
	// below s², and it tends to s² as the steps grow (checked below).
	want := ancestralVariance(s.(*Euler).Sigmas(), s2)
	if math.Abs(variance-want) > 0.04*want || math.Abs(mean) > 0.02 {
		t.Errorf("Euler a samples: mean %g variance %g, want 0 and %g", mean, variance, want)
	}
	fine, err := NewEulerAncestral(DefaultConfig(), 999)
	if err != nil {
		t.Fatal(err)
	}
	if v := ancestralVariance(fine.Sigmas(), s2); math.Abs(v-s2) > 0.03*s2 {
		t.Errorf("999 ancestral steps reach variance %g, want about %g", v, s2)
	}
	if _, err := s.Step(make([]float32, n), 0, x, nil); err == nil {
		t.Error("Euler a without a random source accepted")
	}
}

func TestImg2Img(t *testing.T) {
	s, err := New("ddim", DefaultConfig(), 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		strength float64
		start    int
	}{{1, 0}, {0.75, 5}, {0.5, 10}, {0.05, 19}} {
		got, err := Img2ImgStart(s, c.strength)
		if err != nil || got != c.start {
			t.Errorf("strength %g: start %d, %v; want %d", c.strength, got, err, c.start)
		}
	}
	for _, bad := range []float64{0, 0.01, -1, 1.5, math.NaN()} {
		if _, err := Img2ImgStart(s, bad); err == nil {
			t.Errorf("strength %g accepted", bad)
		}
	}
	x0 := []float32{0.5, -0.25, 1}
	start, x, err := Img2ImgLatents(s, x0, 0.5, NewRNG(9))
	if err != nil {
		t.Fatal(err)
	}
	noise := Randn(NewRNG(9), 3)
	want, _ := s.AddNoise(x0, noise, start)
	if !reflect.DeepEqual(x, want) || s.Timesteps()[start] != 451 {
		t.Errorf("img2img start %d (t=%g): %v, want %v", start, s.Timesteps()[start], x, want)
	}
	// From that start, a perfect denoiser brings every sampler back to x0.
	for _, name := range []string{"ddim", "euler", "dpmpp_2m_karras"} {
		cfg := DefaultConfig()
		cfg.SetAlphaToOne = true
		smp, err := New(name, cfg, 20)
		if err != nil {
			t.Fatal(err)
		}
		start, x, err := Img2ImgLatents(smp, x0, 0.6, NewRNG(5))
		if err != nil {
			t.Fatal(err)
		}
		j := 0
		got := run(t, smp, x, start, func(_, _ float64) float64 { v := float64(x0[j%3]); j++; return v })
		if diff := maxAbsDiff(got, x0); diff > 1e-5 {
			t.Errorf("%s img2img from step %d: max |x - x0| %g", name, start, diff)
		}
	}
}

func TestStepErrors(t *testing.T) {
	for _, name := range Names() {
		s, err := New(name, DefaultConfig(), 5)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 4)
		if _, err := s.Step(x, 5, x, NewRNG(1)); err == nil {
			t.Errorf("%s: step 5 of 5 accepted", name)
		}
		if _, err := s.Step(x[:3], 0, x, NewRNG(1)); err == nil {
			t.Errorf("%s: length mismatch accepted", name)
		}
		if _, err := s.AddNoise(x, x[:2], 0); err == nil {
			t.Errorf("%s: AddNoise length mismatch accepted", name)
		}
	}
}

// ancestralVariance propagates the variance of N(0, s²+σ₀²) samples through
// Euler ancestral steps on Gaussian data with the ideal denoiser.
func ancestralVariance(sigmas []float64, s2 float64) float64 {
	v := s2 + sigmas[0]*sigmas[0]
	for i := 0; i+1 < len(sigmas); i++ {
		s, next := sigmas[i], sigmas[i+1]
		up := math.Sqrt(next * next * (s*s - next*next) / (s * s))
		down := math.Sqrt(next*next - up*up)
		f := 1 + (down-s)*s/(s2+s*s)
		v = f*f*v + up*up
	}
	return v
}

// DPM++ 2M here works on variance-preserving samples with diffusers'
// formulas; k-diffusion's sample_dpmpp_2m states the same method on
// variance-exploding samples (x_next = σ'/σ x - expm1(-h) D', with
// D' = (1 + 1/2r) D - 1/2r D_prev). Both must agree step for step.
func TestDPMPP2MMatchesKDiffusionForm(t *testing.T) {
	const s2 = 0.25
	denoise := func(xve, sigma float64) float64 { return xve * s2 / (s2 + sigma*sigma) }
	for _, karras := range []bool{false, true} {
		d, err := NewDPMPP2M(DefaultConfig(), 12, karras)
		if err != nil {
			t.Fatal(err)
		}
		sig := d.Sigmas()
		xve := 2.5
		x := []float32{float32(xve / math.Sqrt(sig[0]*sig[0]+1))}
		var old float64
		for i := 0; i < d.Len(); i++ {
			// k-diffusion step, in float64 on the VE sample.
			den := denoise(xve, sig[i])
			if i == 0 || sig[i+1] == 0 {
				if sig[i+1] == 0 {
					xve = den
				} else {
					h := math.Log(sig[i]) - math.Log(sig[i+1])
					xve = sig[i+1]/sig[i]*xve - math.Expm1(-h)*den
				}
			} else {
				h := math.Log(sig[i]) - math.Log(sig[i+1])
				r := (math.Log(sig[i-1]) - math.Log(sig[i])) / h
				dd := (1+1/(2*r))*den - 1/(2*r)*old
				xve = sig[i+1]/sig[i]*xve - math.Expm1(-h)*dd
			}
			old = den
			// This package's step on the VP sample.
			alpha := 1 / math.Sqrt(sig[i]*sig[i]+1)
			cur := float64(x[0]) / alpha
			eps := float32((cur - denoise(cur, sig[i])) / sig[i])
			if x, err = d.Step([]float32{eps}, i, x, nil); err != nil {
				t.Fatal(err)
			}
			alphaNext := 1 / math.Sqrt(sig[i+1]*sig[i+1]+1)
			if got := float64(x[0]) / alphaNext; math.Abs(got-xve) > 1e-5*math.Max(1, math.Abs(xve)) {
				t.Fatalf("karras %v step %d: VE sample %g, k-diffusion form %g", karras, i, got, xve)
			}
		}
	}
}

func TestOtherSpacings(t *testing.T) {
	cases := []struct {
		spacing string
		ddim    []float64
		dpm     []float64
	}{
		// trailing: round(arange(1000, 0, -250)) - 1
		{"trailing", []float64{999, 749, 499, 249}, []float64{999, 749, 499, 249}},
		// linspace: round(linspace(0, 999, 4)) reversed; DPM spaces 5 points
		// (0, 249.75, 499.5, 749.25, 999), rounds half to even, drops t=0.
		{"linspace", []float64{999, 666, 333, 0}, []float64{999, 749, 500, 250}},
	}
	for _, c := range cases {
		cfg := DefaultConfig()
		cfg.TimestepSpacing = c.spacing
		cfg.StepsOffset = 0
		d, err := New("ddim", cfg, 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := d.Timesteps(); !reflect.DeepEqual(got, c.ddim) {
			t.Errorf("%s ddim: %v, want %v", c.spacing, got, c.ddim)
		}
		p, err := New("dpmpp_2m", cfg, 4)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Timesteps(); !reflect.DeepEqual(got, c.dpm) {
			t.Errorf("%s dpm: %v, want %v", c.spacing, got, c.dpm)
		}
	}
}

func TestDDIMClipSample(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClipSample = true
	cfg.ClipSampleRange = 1
	d, err := NewDDIM(cfg, 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	x0, err := d.PredictOriginal([]float32{-5, 0, 5}, 0, []float32{0, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	if x0[0] != 1 || x0[1] != 0 || x0[2] != -1 {
		t.Errorf("clipped x0 %v, want [1 0 -1]", x0)
	}
}

func TestDDIMEta(t *testing.T) {
	d, err := NewDDIM(DefaultConfig(), 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{0.3, -0.2}
	if _, err := d.Step(x, 0, x, nil); err == nil {
		t.Error("eta 1 without a random source accepted")
	}
	a, _ := d.Step(x, 0, x, NewRNG(4))
	b, _ := d.Step(x, 0, x, NewRNG(4))
	det, _ := NewDDIM(DefaultConfig(), 10, 0)
	c, _ := det.Step(x, 0, x, nil)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Errorf("eta 1 steps %v %v, eta 0 %v", a, b, c)
	}
}
