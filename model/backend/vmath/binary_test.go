package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestBinary(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 9, 31, 100} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		if n > 3 {
			b[2] = 0 // division by zero gives Inf like the Go operator
		}
		for _, op := range []Op{Add, Sub, Mul, Div} {
			for mode := range 3 {
				x, y := a, b
				switch mode {
				case 1:
					y = []float32{1.5}
				case 2:
					x = []float32{-2.5}
				}
				dst := make([]float32, n)
				Binary(op, dst, x, y)
				for i := range dst {
					xi, yi := x[0], y[0]
					if len(x) > 1 {
						xi = x[i]
					}
					if len(y) > 1 {
						yi = y[i]
					}
					want := apply(op, xi, yi)
					if dst[i] != want && !(math.IsNaN(float64(want)) && math.IsNaN(float64(dst[i]))) {
						t.Fatalf("n=%d op=%d mode=%d i=%d: %g, want %g", n, op, mode, i, dst[i], want)
					}
				}
			}
		}
	}
}
