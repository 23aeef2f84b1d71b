package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// alignedAt returns n floats whose start is 32-byte aligned plus shift floats.
func alignedAt(n, shift int) []float32 {
	buf := make([]float32, n+16)
	off := 0
	for uintptr(unsafe.Pointer(&buf[off]))%32 != 0 {
		off++
	}
	return buf[off+shift : off+shift+n]
}

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
		for _, c := range []struct {
			name  string
			fn    func(op Op, dst, a, b []float32)
			shift int // dst's offset from a 32-byte boundary, in floats
		}{{"Binary", Binary, 0}, {"BinaryStream", BinaryStream, 0}, {"BinaryStream unaligned", BinaryStream, 1}} {
			for _, op := range []Op{Add, Sub, Mul, Div} {
				for mode := range 3 {
					x, y := a, b
					switch mode {
					case 1:
						y = []float32{1.5}
					case 2:
						x = []float32{-2.5}
					}
					dst := alignedAt(n, c.shift)
					c.fn(op, dst, x, y)
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
							t.Fatalf("%s n=%d op=%d mode=%d i=%d: %g, want %g", c.name, n, op, mode, i, dst[i], want)
						}
					}
				}
			}
		}
	}
}
