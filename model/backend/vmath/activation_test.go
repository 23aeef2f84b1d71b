package vmath

import (
	"math"
	"math/rand/v2"
	"testing"
)

// activationInputs returns a uniform sweep of [-20, 20] (step 2^-12), random
// values, log-spaced magnitudes from denormals to 1e30, the float32s around
// each of points (64 on either side) and the special values.
func activationInputs(points ...float32) []float32 {
	var xs []float32
	for i := -20 << 12; i <= 20<<12; i++ {
		xs = append(xs, float32(i)/(1<<12))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		xs = append(xs, float32(rng.Float64()*40-20), float32(rng.NormFloat64()))
	}
	for e := -149.0; e <= 100; e += 0.25 {
		v := float32(math.Pow(2, e))
		xs = append(xs, v, -v)
	}
	for _, p := range points {
		lo, hi := p, p
		for range 64 {
			lo, hi = math.Nextafter32(lo, float32(math.Inf(-1))), math.Nextafter32(hi, float32(math.Inf(1)))
			xs = append(xs, lo, hi, -lo, -hi)
		}
		xs = append(xs, p, -p)
	}
	negZero := float32(math.Copysign(0, -1))
	return append(xs, 0, negZero, 1, -1, math.MaxFloat32, -math.MaxFloat32, 1e30, -1e30,
		math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32, 1e-40, -1e-40,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		0.5, 0.25, 0.125) // a tail that is not a multiple of 8
}

// activationPaths runs kernel (the exported function, SIMD where the CPU has
// it) and portable over xs, once into a fresh slice and once in place, and
// returns the kernel's and the portable path's results.
func activationPaths(t *testing.T, kernel, portable func(dst, src []float32), xs []float32) (simd, goPath []float32) {
	t.Helper()
	simd = make([]float32, len(xs))
	kernel(simd, xs)
	inPlace := append([]float32(nil), xs...)
	kernel(inPlace, inPlace)
	for i := range simd {
		if math.Float32bits(inPlace[i]) != math.Float32bits(simd[i]) {
			t.Fatalf("in place: f(%g) = %g, into a fresh slice %g", xs[i], inPlace[i], simd[i])
		}
	}
	goPath = make([]float32, len(xs))
	portable(goPath, xs)
	if !HasSIMD() {
		t.Log("no SIMD kernel on this CPU: both results come from the portable path")
	}
	return simd, goPath
}

// TestLogistic measures both paths against math in float64 (the errors are
// logged: go test -run TestLogistic -v ./model/backend/vmath). Measured on an
// AMD EPYC with AVX-512 (AVX2 kernel): the SIMD path within 3 ulp, the
// portable path within 0 (correctly rounded) over these inputs. The limit, 4
// ulp, is exp's 2 ulp plus one rounding each for 1+e, the division and e*q.
func TestLogistic(t *testing.T) {
	// -87.34: exp(x) becomes denormal; -88.72 and -103.97: exp(-x) overflows
	// and 1/(1+e) underflows to 0 (the kernel keeps e*q there).
	xs := activationInputs(0, 1e-7, 16.6, 17.33, 87.33, 88.72, 103.97)
	simd, goPath := activationPaths(t, Logistic, logisticGo, xs)
	for name, got := range map[string][]float32{"simd": simd, "go": goPath} {
		var worst int64
		for i, x := range xs {
			want := float32(1 / (1 + math.Exp(-float64(x))))
			y := got[i]
			switch {
			case math.IsNaN(float64(x)):
				if !math.IsNaN(float64(y)) {
					t.Errorf("%s: logistic(NaN) = %g", name, y)
				}
			case want < 1.2e-38:
				if math.Abs(float64(y-want)) > 1.2e-38 || y < 0 {
					t.Errorf("%s: logistic(%g) = %g, want %g", name, x, y, want)
				}
			default:
				u := ulps(y, want)
				worst = max(worst, u)
				if u > 4 || y > 1 {
					t.Errorf("%s: logistic(%g) = %g, want %g (%d ulp)", name, x, y, want, u)
				}
			}
		}
		t.Logf("%s: max error %d ulp over %d inputs", name, worst, len(xs))
	}
	for _, c := range []struct{ x, want float32 }{
		{0, 0.5}, {float32(math.Copysign(0, -1)), 0.5}, {float32(math.Inf(1)), 1}, {float32(math.Inf(-1)), 0},
		{200, 1}, {-200, 0}, {math.MaxFloat32, 1}, {-math.MaxFloat32, 0},
	} {
		in := []float32{c.x, c.x, c.x, c.x, c.x, c.x, c.x, c.x}
		Logistic(in, in)
		if in[0] != c.want {
			t.Errorf("logistic(%g) = %g, want %g", c.x, in[0], c.want)
		}
	}
}

// TestErf measures both paths against math.Erf in float64 (the errors are
// logged: go test -run TestErf -v ./model/backend/vmath). Measured on an AMD
// EPYC with AVX-512 (AVX2 kernel): SIMD absolute error at most 6.3e-8, and 1
// ulp on |x| <= 0.9, over these inputs. The limits: 2e-7 absolute (below 2
// ulp of values in [0.5, 1), where the spacing is 6e-8) and 2 ulp relative on
// |x| <= 0.9, where the small branch keeps relative accuracy down to denormals.
func TestErf(t *testing.T) {
	// 0.9: the branch point; 3.92 and 4: where erf rounds to 1 and the clamp.
	xs := activationInputs(0, 1e-20, 0.5, 0.9, 1, 2, 3.92, 4)
	simd, goPath := activationPaths(t, Erf, erfGo, xs)
	for name, got := range map[string][]float32{"simd": simd, "go": goPath} {
		var worstAbs float64
		var worstUlp int64
		for i, x := range xs {
			want := math.Erf(float64(x))
			y := got[i]
			if math.IsNaN(float64(x)) {
				if !math.IsNaN(float64(y)) {
					t.Errorf("%s: erf(NaN) = %g", name, y)
				}
				continue
			}
			d := math.Abs(float64(y) - want)
			worstAbs = max(worstAbs, d)
			if d > 2e-7 || math.Abs(float64(y)) > 1 || math.Signbit(float64(y)) != math.Signbit(float64(x)) {
				t.Errorf("%s: erf(%g) = %g, want %g (error %.3g)", name, x, y, want, d)
			}
			if math.Abs(float64(x)) <= 0.9 {
				u := ulps(y, float32(want))
				worstUlp = max(worstUlp, u)
				if u > 2 {
					t.Errorf("%s: erf(%g) = %g, want %g (%d ulp)", name, x, y, want, u)
				}
			}
		}
		t.Logf("%s: max absolute error %.3g, max %d ulp on |x| <= 0.9, over %d inputs", name, worstAbs, worstUlp, len(xs))
	}
}

func BenchmarkLogistic(b *testing.B) { benchUnary(b, Logistic) }

func BenchmarkErf(b *testing.B) { benchUnary(b, Erf) }

func benchUnary(b *testing.B, kernel func(dst, src []float32)) {
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(i%2000)/100 - 10
	}
	dst := make([]float32, len(src))
	for b.Loop() {
		kernel(dst, src)
	}
	b.SetBytes(int64(4 * len(src)))
}
