package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps returns the distance in units in the last place between two float32s.
func ulps(a, b float32) int64 {
	ia, ib := int64(int32(math.Float32bits(a))), int64(int32(math.Float32bits(b)))
	if ia < 0 {
		ia = math.MinInt32 - ia
	}
	if ib < 0 {
		ib = math.MinInt32 - ib
	}
	d := ia - ib
	if d < 0 {
		d = -d
	}
	return d
}

func TestExp(t *testing.T) { simdVariants(t, testExp) }

func testExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var src []float32
	for range 100000 {
		src = append(src, float32(rng.Float64()*200-100))
	}
	for range 10000 {
		src = append(src, float32(rng.Float64()*2-1))
	}
	special := []float32{0, -0, 1, -1, 88.7, 88.72, 88.7228, 88.73, 89, 1000, -87.3, -87.4, -100, -103.9, -104, -200,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-30, -1e-30}
	src = append(src, special...)
	src = append(src, 0.5, 0.25, 0.125) // a tail not multiple of 8
	dst := make([]float32, len(src))
	Exp(dst, src)
	for i, x := range src {
		want := float32(math.Exp(float64(x)))
		got := dst[i]
		switch {
		case math.IsNaN(float64(x)):
			if !math.IsNaN(float64(got)) {
				t.Errorf("exp(NaN) = %g", got)
			}
		case want < math.SmallestNonzeroFloat32*2 || want < 1.2e-38:
			// Denormal range: absolute error below the smallest normal.
			if math.Abs(float64(got-want)) > 1.2e-38 {
				t.Errorf("exp(%g) = %g, want %g", x, got, want)
			}
		case ulps(got, want) > 2:
			t.Errorf("exp(%g) = %g, want %g (%d ulp)", x, got, want, ulps(got, want))
		}
	}
	if !HasSIMD() {
		t.Log("no SIMD kernel on this CPU: tested the portable path only")
	}
}

func BenchmarkExp(b *testing.B) {
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(i%200) - 100
	}
	dst := make([]float32, len(src))
	for b.Loop() {
		Exp(dst, src)
	}
	b.SetBytes(int64(4 * len(src)))
}
