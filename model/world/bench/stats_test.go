package bench

import (
	"math"
	"testing"
)

// TestWilson checks the interval against values worked by hand from
// (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) with z = 1.96:
//
//	0/10:  z² = 3.8416, den = 1.38416, centre = 0.19208/1.38416 = 0.13877,
//	       half = 1.96 sqrt(3.8416/400)/1.38416 = 0.13877 -> [0, 0.2775]
//	5/10:  centre = 0.5, half = 1.96 sqrt(0.025 + 0.009604)/1.38416
//	       = 0.26341 -> [0.2366, 0.7634]
//	10/10: the mirror of 0/10 -> [0.7225, 1]
//	1/20:  z²/n = 0.19208, den = 1.19208, centre = (0.05 + 0.09604)/1.19208
//	       = 0.12251, half = 1.96 sqrt(0.002375 + 0.0024010)/1.19208
//	       = 0.11363 -> [0.0089, 0.2361]
func TestWilson(t *testing.T) {
	for _, tc := range []struct {
		k, n   int
		lo, hi float64
	}{
		{0, 10, 0, 0.2775},
		{5, 10, 0.2366, 0.7634},
		{10, 10, 0.7225, 1},
		{1, 20, 0.0089, 0.2361},
	} {
		lo, hi := Wilson(tc.k, tc.n, 1.96)
		if math.Abs(lo-tc.lo) > 5e-4 || math.Abs(hi-tc.hi) > 5e-4 {
			t.Errorf("Wilson(%d, %d) = [%.4f, %.4f], want [%.4f, %.4f]", tc.k, tc.n, lo, hi, tc.lo, tc.hi)
		}
	}
	for _, bad := range [][2]int{{0, 0}, {-1, 5}, {6, 5}} {
		if lo, hi := Wilson(bad[0], bad[1], Z95); !math.IsNaN(lo) || !math.IsNaN(hi) {
			t.Errorf("Wilson(%d, %d) = [%g, %g], want NaNs", bad[0], bad[1], lo, hi)
		}
	}
}

func TestRateString(t *testing.T) {
	for _, tc := range []struct {
		r    Rate
		want string
	}{
		{Rate{5, 10}, "50.0 [23.7, 76.3]"},
		{Rate{0, 10}, "0.0 [0.0, 27.8]"},
		{Rate{0, 0}, "-"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
	if p := (Rate{1, 4}).Percent(); p != 25 {
		t.Errorf("1/4 = %g%%", p)
	}
}
