package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSumMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 5, 31, 32, 33, 64, 100, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64()) - 3
		}
		var want64 float64
		wantMax := x[0]
		for _, v := range x {
			want64 += float64(v)
			wantMax = max(wantMax, v)
		}
		if got := Sum(x); math.Abs(float64(got)-want64) > 1e-5*float64(n) {
			t.Errorf("n=%d: Sum = %g, want %g", n, got, want64)
		}
		if got := Max(x); got != wantMax {
			t.Errorf("n=%d: Max = %g, want %g", n, got, wantMax)
		}
		for _, pos := range []int{0, n / 2, n - 1} {
			y := append([]float32(nil), x...)
			y[pos] = float32(math.NaN())
			if got := Max(y); !math.IsNaN(float64(got)) {
				t.Errorf("n=%d NaN at %d: Max = %g, want NaN", n, pos, got)
			}
			y[pos] = float32(math.Inf(1))
			if got := Max(y); !math.IsInf(float64(got), 1) {
				t.Errorf("n=%d +Inf at %d: Max = %g", n, pos, got)
			}
		}
	}
}
