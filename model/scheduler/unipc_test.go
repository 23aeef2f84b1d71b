package scheduler

import (
	"math"
	"testing"
)

// runUniPC drives UniPC on the Gaussian-data denoiser from the VE point
// xve at the first step, returning the final VP sample.
func runUniPC(t *testing.T, u *UniPC, xve, s2 float64) float64 {
	t.Helper()
	den := gaussDenoiser(s2)
	a0, _, _ := u.coeffs(u.times[0])
	x := []float32{float32(xve * a0)}
	for i := range u.Len() {
		a, s, _ := u.coeffs(u.times[i])
		sig := s / a
		v := float64(x[0]) / a
		eps := []float32{float32((v - den(v, sig)) / sig)}
		var err error
		if x, err = u.Step(eps, i, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	return float64(x[0])
}

// halfwayError runs the first half of an N-step UniPC (order set as
// given) on the Gaussian ODE and returns the relative error of the sample
// at t = 0.5005 (the same time for every even N).
func halfwayError(t *testing.T, steps, order int, variant string) float64 {
	t.Helper()
	const s2, xve = 0.25, 3.0
	den := gaussDenoiser(s2)
	u, err := NewUniPCVariant(DefaultConfig(), steps, order, variant)
	if err != nil {
		t.Fatal(err)
	}
	a0, s0, _ := u.coeffs(u.times[0])
	x := []float32{float32(xve * a0)}
	half := steps / 2
	for i := range half {
		a, s, _ := u.coeffs(u.times[i])
		v := float64(x[0]) / a
		eps := []float32{float32((v - den(v, s/a)) / (s / a))}
		if x, err = u.Step(eps, i, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	am, sm, _ := u.coeffs(u.times[half])
	want := am * xve * math.Sqrt(s2+sm*sm/(am*am)) / math.Sqrt(s2+s0*s0/(a0*a0))
	return math.Abs(float64(x[0])-want) / want
}

// UniPC must follow the Gaussian probability-flow ODE with the order its
// predictor-corrector pair has (p+1 for order p): measured halfway, the
// error of order 3 falls more than 8x when the steps double, and each
// order beats the one below. The whole run to t = 1/N converges too, but
// only at first order: with time-uniform steps the last step (order 1,
// lower_order_final) spans a large log-SNR interval, as in AUTOMATIC1111.
func TestUniPCGaussianODE(t *testing.T) {
	e := map[int][2]float64{}
	for _, order := range []int{1, 2, 3} {
		e[order] = [2]float64{halfwayError(t, 10, order, "bh1"), halfwayError(t, 20, order, "bh1")}
		t.Logf("order %d: halfway relative error %.3g at 10 steps, %.3g at 20", order, e[order][0], e[order][1])
	}
	if !(e[3][1] < e[3][0]/8 && e[3][1] < 1e-5) {
		t.Errorf("order 3 halfway errors %v: not third order or better", e[3])
	}
	if !(e[3][0] < e[2][0] && e[2][0] < e[1][0]/4) {
		t.Errorf("halfway errors by order %v", e)
	}
	const s2, xve = 0.25, 3.0
	var full []float64
	for _, steps := range []int{10, 20, 40} {
		u, err := NewUniPC(DefaultConfig(), steps)
		if err != nil {
			t.Fatal(err)
		}
		a0, s0, _ := u.coeffs(u.times[0])
		aN, sN, _ := u.coeffs(u.times[len(u.times)-1])
		want := aN * xve * math.Sqrt(s2+sN*sN/(aN*aN)) / math.Sqrt(s2+s0*s0/(a0*a0))
		full = append(full, math.Abs(runUniPC(t, u, xve, s2)-want)/want)
	}
	t.Logf("whole run: relative errors %v at 10, 20, 40 steps", full)
	if !(full[1] < full[0]/2 && full[2] < full[1]/2 && full[2] < 0.04) {
		t.Errorf("whole-run errors %v do not converge", full)
	}
}

// The first two steps by hand from the UniPC update (data prediction,
// bh1): step 0 predicts with order 1, x1 = σ1/σ0 x0 - α1 (e^{-h} - 1) m0;
// step 1 corrects x1 with ρ = 1/2 and B(h) = -h, then predicts with order 2
// (ρ_p = 1/2).
func TestUniPCTwoStepsByHand(t *testing.T) {
	const s2 = 0.25
	den := gaussDenoiser(s2)
	u, err := NewUniPC(DefaultConfig(), 6)
	if err != nil {
		t.Fatal(err)
	}
	a := make([]float64, 3)
	s := make([]float64, 3)
	l := make([]float64, 3)
	for i := range 3 {
		a[i], s[i], l[i] = u.coeffs(u.times[i])
	}
	x0 := 1.2
	m := func(x float64, i int) float64 { return a[i]*0 + den(x/a[i], s[i]/a[i]) } // the x0 prediction
	h1 := l[1] - l[0]
	m0 := m(x0, 0)
	x1 := s[1]/s[0]*x0 - a[1]*math.Expm1(-h1)*m0
	m1 := m(x1, 1)
	x1c := s[1]/s[0]*x0 - a[1]*math.Expm1(-h1)*m0 - a[1]*(-h1)*0.5*(m1-m0)
	h2 := l[2] - l[1]
	r := (l[0] - l[1]) / h2
	d1 := (m0 - m1) / r
	x2 := s[2]/s[1]*x1c - a[2]*math.Expm1(-h2)*m1 - a[2]*(-h2)*0.5*d1

	eps := func(x float64, i int) []float32 { return []float32{float32((x - a[i]*m(x, i)) / s[i])} }
	got1, _ := u.Step(eps(x0, 0), 0, []float32{float32(x0)}, nil)
	if math.Abs(float64(got1[0])-x1) > 1e-6 {
		t.Errorf("step 0: %.8g, by hand %.8g", got1[0], x1)
	}
	got2, _ := u.Step(eps(float64(got1[0]), 1), 1, got1, nil)
	if math.Abs(float64(got2[0])-x2) > 1e-6 {
		t.Errorf("step 1: %.8g, by hand %.8g", got2[0], x2)
	}
	// Skipping a step is refused.
	if _, err := u.Step(eps(1, 2), 3, []float32{1}, nil); err == nil {
		t.Error("step 3 after step 1 accepted")
	}
}

// The bh2 variant (diffusers' default) has the same order.
func TestUniPCVariants(t *testing.T) {
	e10, e20 := halfwayError(t, 10, 3, "bh2"), halfwayError(t, 20, 3, "bh2")
	t.Logf("bh2 order 3: halfway relative error %.3g at 10 steps, %.3g at 20", e10, e20)
	if !(e20 < e10/8 && e20 < 1e-5) {
		t.Errorf("bh2 order 3 halfway errors %g, %g: not third order or better", e10, e20)
	}
	for _, bad := range []struct {
		order   int
		variant string
	}{{0, "bh1"}, {4, "bh1"}, {2, "vary_coeff"}} {
		if _, err := NewUniPCVariant(DefaultConfig(), 10, bad.order, bad.variant); err == nil {
			t.Errorf("order %d variant %s accepted", bad.order, bad.variant)
		}
	}
}

// Image-to-image starts UniPC at a later step with an empty history.
func TestUniPCImg2Img(t *testing.T) {
	u, err := NewUniPC(DefaultConfig(), 10)
	if err != nil {
		t.Fatal(err)
	}
	x0 := []float32{0.5, -0.25}
	start, x, err := Img2ImgLatents(u, x0, 0.6, NewRNG(1))
	if err != nil {
		t.Fatal(err)
	}
	if start != 4 {
		t.Errorf("start %d, want 4", start)
	}
	// the model predicts exactly the image's noise: UniPC must land on x0
	// at the level of training timestep 0
	a, s, _ := u.coeffs(u.times[start])
	noise := make([]float32, len(x))
	for j := range x {
		noise[j] = float32((float64(x[j]) - a*float64(x0[j])) / s)
	}
	for i := start; i < u.Len(); i++ {
		if x, err = u.Step(noise, i, x, nil); err != nil {
			t.Fatal(err)
		}
	}
	aN, sN, _ := u.coeffs(u.times[u.Len()])
	for j := range x {
		want := aN*float64(x0[j]) + sN*float64(noise[j])
		if math.Abs(float64(x[j])-want) > 1e-5 {
			t.Errorf("x[%d] = %g, want %g", j, x[j], want)
		}
	}
}

func TestUniPCGrid(t *testing.T) {
	u, err := NewUniPC(DefaultConfig(), 4)
	if err != nil {
		t.Fatal(err)
	}
	ts := u.Timesteps()
	// t = linspace(1, 1/1000, 5); model timestep 1000 (t - 1/1000)
	want := []float64{999, 999 - 999.0/4, 999 - 2*999.0/4, 999 - 3*999.0/4}
	for i := range want {
		if math.Abs(ts[i]-want[i]) > 1e-9 {
			t.Errorf("timesteps %v, want %v", ts, want)
			break
		}
	}
	sched, _ := NewSchedule(DefaultConfig())
	// At grid times α is sqrt(ᾱ) of that training step.
	for _, i := range []int{0, 499, 999} {
		a, s, lam := u.coeffs(float64(i+1) / 1000)
		ac := float64(sched.AlphasCumprod[i])
		if math.Abs(a-math.Sqrt(ac)) > 1e-7 || math.Abs(s-math.Sqrt(1-ac)) > 1e-6 || math.Abs(lam-math.Log(a/s)) > 1e-9 {
			t.Errorf("coefficients at t=%d: %g %g %g, ᾱ %g", i, a, s, lam, ac)
		}
	}
	if got := solve([][]float64{{2, 1, 0}, {1, 3, 1}, {0, 1, 4}}, []float64{3, 5, 5}); math.Abs(got[0]-1) > 1e-12 || math.Abs(got[1]-1) > 1e-12 || math.Abs(got[2]-1) > 1e-12 {
		t.Errorf("solve: %v", got)
	}
}
