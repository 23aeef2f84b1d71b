package scheduler

import (
	"math"
	"testing"
)

func trainDiscrete(t *testing.T) *discrete {
	t.Helper()
	s, err := NewSchedule(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return newDiscrete(s)
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// Each schedule type against its AUTOMATIC1111 definition
// (modules/sd_schedulers.py, k_diffusion.sampling.get_sigmas_*), worked out
// by hand on SD's training sigmas for small step counts.
func TestScheduleSigmas(t *testing.T) {
	d := trainDiscrete(t)
	lo, hi := d.min(), d.max()
	tr := func(i int) float64 { return float64(d.sigmas[i]) }
	cases := []struct {
		id   string
		n    int
		want []float64
	}{
		// uniform: t = 999, 499.5, 0
		{"uniform", 3, []float64{hi, math.Sqrt(tr(499) * tr(500)), lo, 0}},
		{"karras", 3, append(KarrasSigmas(lo, hi, 3), 0)},
		// exponential: log-linear from σmax to σmin
		{"exponential", 3, []float64{hi, math.Sqrt(hi * lo), lo, 0}},
		{"polyexponential", 3, []float64{hi, math.Sqrt(hi * lo), lo, 0}},
		// sgm_uniform: t from 999 to 0 in n+1 points, the last dropped
		{"sgm_uniform", 2, []float64{hi, math.Sqrt(tr(499) * tr(500)), 0}},
		{"normal", 2, []float64{hi, lo, 0}},
		// kl_optimal: tan of angles from atan σmax to atan σmin, no final 0
		{"kl_optimal", 2, []float64{hi, math.Tan((math.Atan(hi) + math.Atan(lo)) / 2), lo}},
		// simple: every 1000/n-th training sigma from the top
		{"simple", 4, []float64{tr(999), tr(749), tr(499), tr(249), 0}},
		// ddim: training sigmas 1, 1+1000/n, ... reversed
		{"ddim", 4, []float64{tr(751), tr(501), tr(251), tr(1), 0}},
		// align_your_steps: the 11 published levels as they are
		{"align_your_steps", 11, append(append([]float64(nil), alignYourSteps...), 0)},
		// ... and resampled log-linearly: 5 levels fall on levels 0, 2.5, 5, 7.5, 10
		{"align_your_steps", 5, []float64{14.615, math.Sqrt(3.861 * 2.697), 1.396, math.Sqrt(0.652 * 0.399), 0.029, 0}},
	}
	for _, c := range cases {
		got, err := scheduleSigmas(c.id, c.n, d)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s(%d): %v, want %v", c.id, c.n, got, c.want)
			continue
		}
		for i := range got {
			if !near(got[i], c.want[i], 1e-6) {
				t.Errorf("%s(%d)[%d] = %.8g, want %.8g (all %v)", c.id, c.n, i, got[i], c.want[i], got)
			}
		}
	}
	for _, bad := range []string{"automatic", "x"} {
		if _, err := scheduleSigmas(bad, 5, d); err == nil {
			t.Errorf("schedule %q accepted", bad)
		}
	}
	if _, err := scheduleSigmas("karras", 0, d); err == nil {
		t.Error("0 steps accepted")
	}
}

func TestScheduleNames(t *testing.T) {
	for _, st := range ScheduleTypes() {
		for _, n := range []string{st.ID, st.Label, "  " + st.Label + " "} {
			if id, ok := CanonicalSchedule(n); !ok || id != st.ID {
				t.Errorf("%q -> %q %v, want %q", n, id, ok, st.ID)
			}
		}
		if ScheduleLabel(st.ID) != st.Label {
			t.Errorf("label of %s", st.ID)
		}
	}
	if id, _ := CanonicalSchedule(""); id != "automatic" {
		t.Errorf("empty schedule -> %q", id)
	}
	if id, _ := CanonicalSchedule("SGMUniform"); id != "sgm_uniform" {
		t.Errorf("SGMUniform -> %q", id)
	}
	if _, ok := CanonicalSchedule("Cosine"); ok {
		t.Error("Cosine accepted")
	}
}

// The Beta quantile against closed forms: Beta(1, 1) is uniform,
// Beta(1/2, 1/2) is the arcsine law (q = sin²(πp/2)), Beta(2, 1) has
// q = sqrt(p); and Beta(0.6, 0.6), AUTOMATIC1111's default, is symmetric.
func TestBetaSchedule(t *testing.T) {
	for _, p := range []float64{0.01, 0.2, 0.5, 0.77, 0.999} {
		for _, c := range []struct{ a, b, want float64 }{
			{1, 1, p},
			{0.5, 0.5, math.Pow(math.Sin(math.Pi*p/2), 2)},
			{2, 1, math.Sqrt(p)},
		} {
			if got := betaQuantile(p, c.a, c.b); math.Abs(got-c.want) > 1e-10 {
				t.Errorf("Beta(%g, %g) quantile of %g = %.12g, want %.12g", c.a, c.b, p, got, c.want)
			}
		}
		q, r := betaQuantile(p, 0.6, 0.6), betaQuantile(1-p, 0.6, 0.6)
		if math.Abs(q+r-1) > 1e-10 {
			t.Errorf("Beta(0.6, 0.6) not symmetric at %g: %g + %g", p, q, r)
		}
	}
	d := trainDiscrete(t)
	got, err := scheduleSigmas("beta", 5, d)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := d.min(), d.max()
	if len(got) != 6 || !near(got[0], hi, 1e-12) || !near(got[2], (lo+hi)/2, 1e-9) || !near(got[4], lo, 1e-12) || got[5] != 0 {
		t.Errorf("beta sigmas %v", got)
	}
	for i := 1; i < len(got); i++ {
		if !(got[i] < got[i-1]) {
			t.Errorf("beta sigmas not decreasing: %v", got)
		}
	}
}
