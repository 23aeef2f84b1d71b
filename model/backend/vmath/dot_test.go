package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct{ k, n, pad int }{
		{1, 1, 0}, {15, 4, 3}, {16, 4, 0}, {17, 5, 1}, {64, 8, 0}, {77, 3, 5}, {1024, 4, 0}, {1000, 7, 24},
	} {
		ldb := tc.k + tc.pad
		a := make([]float32, tc.k)
		b := make([]float32, (tc.n-1)*ldb+tc.k)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range b {
			b[i] = float32(rng.NormFloat64())
		}
		out := make([]float32, tc.n)
		Dots(out, a, b, ldb)
		for j, got := range out {
			var want, scale float64
			for i, v := range a {
				want += float64(v) * float64(b[j*ldb+i])
				scale += math.Abs(float64(v) * float64(b[j*ldb+i]))
			}
			if math.Abs(float64(got)-want) > 1e-6*scale+1e-30 {
				t.Errorf("k=%d n=%d ldb=%d: out[%d] = %g, want %g", tc.k, tc.n, ldb, j, got, want)
			}
		}
	}
}

func TestDotsRejectsShortB(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Dots with a short b did not panic")
		}
	}()
	Dots(make([]float32, 2), make([]float32, 8), make([]float32, 15), 8)
}

func TestAddScaled(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tc := range []struct{ n, rows, pad int }{
		{1, 1, 0}, {7, 4, 2}, {8, 4, 0}, {9, 5, 1}, {64, 8, 0}, {77, 3, 5}, {1024, 4, 0}, {1000, 7, 24},
	} {
		ldy := tc.n + tc.pad
		x := make([]float32, tc.n)
		alpha := make([]float32, tc.rows)
		y := make([]float32, (tc.rows-1)*ldy+tc.n)
		for _, s := range [][]float32{x, alpha, y} {
			for i := range s {
				s[i] = float32(rng.NormFloat64())
			}
		}
		want := append([]float32(nil), y...)
		for j, s := range alpha {
			for i, v := range x {
				want[j*ldy+i] = float32(float64(want[j*ldy+i]) + float64(s)*float64(v))
			}
		}
		AddScaled(y, ldy, alpha, x)
		for i, got := range y {
			if d := math.Abs(float64(got - want[i])); d > 1e-6*(math.Abs(float64(want[i]))+1) {
				t.Fatalf("n=%d rows=%d ldy=%d: y[%d] = %g, want %g", tc.n, tc.rows, ldy, i, got, want[i])
			}
		}
	}
}
