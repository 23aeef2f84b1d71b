package adi

import (
	"math"
	"slices"
	"testing"
)

func TestQuantile(t *testing.T) {
	xs := []float32{4, 1, 3, 2}
	for _, c := range []struct{ q, want float64 }{
		{0, 1}, {1, 4}, {0.5, 2.5}, {0.25, 1.75}, {1.0 / 3, 2},
	} {
		if got := Quantile(xs, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v, %v) = %v, want %v", xs, c.q, got, c.want)
		}
	}
	if !slices.Equal(xs, []float32{4, 1, 3, 2}) {
		t.Errorf("Quantile modified its input: %v", xs)
	}
	if !math.IsNaN(Quantile(nil, 0.5)) {
		t.Errorf("Quantile of nothing is not NaN")
	}
}

func TestMasksHandMade(t *testing.T) {
	// Two layers of four numbers. Differences chosen so the masks are known:
	// layer 0: |ga-gp| = 0.1 0.4 0.2 0.3 -> median 0.25 -> m_c = 1 0 1 0
	//          |ga-gn| = 0.5 0.1 0.2 0.9 -> median 0.35 -> m_s = 1 0 0 1
	// layer 1: |ga-gp| = 1 2 3 4 -> median 2.5 -> m_c = 1 1 0 0
	//          |ga-gn| = 4 3 2 1 -> median 2.5 -> m_s = 1 1 0 0
	ga := []float32{1, 1, 1, 1, 10, 20, 30, 40}
	gp := []float32{1.1, 0.6, 1.2, 0.7, 11, 18, 33, 36}
	gn := []float32{0.5, 1.1, 0.8, 1.9, 14, 17, 32, 41}
	perLayer := []struct {
		name     string
		cfg      MaskConfig
		mc, ms   []float32
		gradient []float32
		kept     float64 // share of entries both masks keep
	}{
		{
			name: "per layer beta 0.5",
			cfg:  MaskConfig{Beta: 0.5, Scope: ScopePerLayer},
			mc:   []float32{1, 0, 1, 0, 1, 1, 0, 0},
			ms:   []float32{1, 0, 0, 1, 1, 1, 0, 0},
			// g = ga*mc*ms
			gradient: []float32{1, 0, 0, 0, 10, 20, 0, 0},
			kept:     3.0 / 8,
		},
		{
			// Over all 8: |ga-gp| = .1 .4 .2 .3 1 2 3 4, sorted .1 .2 .3 .4 1 2 3 4,
			// median (.4+1)/2 = .7 -> m_c = 1 1 1 1 0 0 0 0.
			// |ga-gn| = .5 .1 .2 .9 4 3 2 1, sorted .1 .2 .5 .9 1 2 3 4, median .95
			// -> m_s = 0 0 0 0 1 1 1 1.
			name:     "all beta 0.5",
			cfg:      MaskConfig{Beta: 0.5, Scope: ScopeAll},
			mc:       []float32{1, 1, 1, 1, 0, 0, 0, 0},
			ms:       []float32{0, 0, 0, 0, 1, 1, 1, 1},
			gradient: []float32{0, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			// beta 0: nothing is strictly below the minimum, everything is at or
			// above it: the context mask drops all.
			name:     "beta 0",
			cfg:      MaskConfig{Beta: 0, Scope: ScopePerLayer},
			mc:       []float32{0, 0, 0, 0, 0, 0, 0, 0},
			ms:       []float32{1, 1, 1, 1, 1, 1, 1, 1},
			gradient: []float32{0, 0, 0, 0, 0, 0, 0, 0},
		},
		{
			// beta 1: quantile = max; all but the largest difference are kept by
			// m_c, only the largest by m_s.
			name:     "beta 1",
			cfg:      MaskConfig{Beta: 1, Scope: ScopePerLayer},
			mc:       []float32{1, 0, 1, 1, 1, 1, 1, 0},
			ms:       []float32{0, 0, 0, 1, 1, 0, 0, 0},
			gradient: []float32{0, 0, 0, 1, 10, 0, 0, 0},
			kept:     2.0 / 8,
		},
	}
	for _, c := range perLayer {
		g, m, err := MaskedGradient(ga, gp, gn, 2, c.cfg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(m.Context, c.mc) {
			t.Errorf("%s: context mask %v, want %v", c.name, m.Context, c.mc)
		}
		if !slices.Equal(m.Action, c.ms) {
			t.Errorf("%s: action mask %v, want %v", c.name, m.Action, c.ms)
		}
		if !slices.Equal(g, c.gradient) {
			t.Errorf("%s: gradient %v, want %v", c.name, g, c.gradient)
		}
		if got := m.keptShare(); got != c.kept {
			t.Errorf("%s: kept share %v, want %v", c.name, got, c.kept)
		}
	}
}

func TestMaskErrors(t *testing.T) {
	a := []float32{1, 2, 3, 4}
	for name, f := range map[string]func() error{
		"size":   func() error { _, err := ComputeMasks(a, a[:3], a, 1, DefaultMaskConfig()); return err },
		"layers": func() error { _, err := ComputeMasks(a, a, a, 3, DefaultMaskConfig()); return err },
		"beta":   func() error { _, err := ComputeMasks(a, a, a, 1, MaskConfig{Beta: 1.5, Scope: ScopeAll}); return err },
		"scope":  func() error { _, err := ComputeMasks(a, a, a, 1, MaskConfig{Beta: 0.5, Scope: "x"}); return err },
	} {
		if f() == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
