package vmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
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
// AMD EPYC with AVX-512, both kernels: the SIMD path within 3 ulp, the
// portable path within 0 (correctly rounded) over these inputs. The limit, 4
// ulp, is exp's 2 ulp plus one rounding each for 1+e, the division and e*q.
func TestLogistic(t *testing.T) { simdVariants(t, testLogistic) }

func testLogistic(t *testing.T) {
	// -87.34: exp(x) becomes denormal; -88.72 and -103.97: exp(-x) overflows
	// and 1/(1+e) underflows to 0 (the kernel keeps e*q there).
	xs := activationInputs(0, 1e-7, 16.6, 17.33, 87.33, 88.72, 103.97)
	simd, goPath := activationPaths(t, Logistic, logisticGo, xs)
	for name, got := range map[string][]float32{"simd": simd, "go": goPath} {
		var worst int64
		for i, x := range xs {
			u, err := logisticError(x, got[i])
			if err != "" {
				t.Errorf("%s: %s", name, err)
			}
			worst = max(worst, u)
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
// EPYC with AVX-512, both kernels: SIMD absolute error at most 6.3e-8, and 1
// ulp on |x| <= 0.9, over these inputs. The limits: 2e-7 absolute (below 2 ulp
// of values in [0.5, 1), where the spacing is 6e-8) and 2 ulp relative on |x|
// <= 0.9, where the small branch keeps relative accuracy down to denormals.
func TestErf(t *testing.T) { simdVariants(t, testErf) }

func testErf(t *testing.T) {
	// 0.9: the branch point; 3.92 and 4: where erf rounds to 1 and the clamp.
	xs := activationInputs(0, 1e-20, 0.5, 0.9, 1, 2, 3.92, 4)
	simd, goPath := activationPaths(t, Erf, erfGo, xs)
	for name, got := range map[string][]float32{"simd": simd, "go": goPath} {
		var worstAbs float64
		var worstUlp int64
		for i, x := range xs {
			d, u, err := erfError(x, got[i])
			if err != "" {
				t.Errorf("%s: %s", name, err)
			}
			worstAbs, worstUlp = max(worstAbs, d), max(worstUlp, u)
		}
		t.Logf("%s: max absolute error %.3g, max %d ulp on |x| <= 0.9, over %d inputs", name, worstAbs, worstUlp, len(xs))
	}
}

// logisticError returns the error in ulp of y = logistic(x) (0 where the result
// is below 1.2e-38, where only the absolute error is checked) and a message if
// it exceeds TestLogistic's limits.
func logisticError(x, y float32) (ulp int64, err string) {
	want := float32(1 / (1 + math.Exp(-float64(x))))
	switch {
	case math.IsNaN(float64(x)):
		if !math.IsNaN(float64(y)) {
			return 0, fmt.Sprintf("logistic(NaN) = %g", y)
		}
	case want < 1.2e-38:
		if math.Abs(float64(y-want)) > 1.2e-38 || y < 0 {
			return 0, fmt.Sprintf("logistic(%g) = %g, want %g", x, y, want)
		}
	default:
		ulp = ulps(y, want)
		if ulp > 4 || y > 1 {
			return ulp, fmt.Sprintf("logistic(%g) = %g, want %g (%d ulp)", x, y, want, ulp)
		}
	}
	return ulp, ""
}

// erfError returns the absolute error of y = erf(x), its error in ulp for |x|
// <= 0.9 (else 0), and a message if either exceeds TestErf's limits.
func erfError(x, y float32) (abs float64, ulp int64, err string) {
	if math.IsNaN(float64(x)) {
		if !math.IsNaN(float64(y)) {
			return 0, 0, fmt.Sprintf("erf(NaN) = %g", y)
		}
		return 0, 0, ""
	}
	want := math.Erf(float64(x))
	abs = math.Abs(float64(y) - want)
	if abs > 2e-7 || math.Abs(float64(y)) > 1 || math.Signbit(float64(y)) != math.Signbit(float64(x)) {
		return abs, 0, fmt.Sprintf("erf(%g) = %g, want %g (error %.3g)", x, y, want, abs)
	}
	if math.Abs(float64(x)) <= 0.9 {
		ulp = ulps(y, float32(want))
		if ulp > 2 {
			return abs, ulp, fmt.Sprintf("erf(%g) = %g, want %g (%d ulp)", x, y, want, ulp)
		}
	}
	return abs, ulp, ""
}

// exhaustiveEnv, set to 1, runs TestActivationsExhaustive (minutes of CPU).
const exhaustiveEnv = "KATA_VMATH_EXHAUSTIVE"

// TestActivationsExhaustive checks Logistic on every float32 in [-104, 20]
// (beyond, the results are 0 and 1, which TestLogistic checks) and Erf on every
// non-negative float32 up to 4.5 (the kernels compute on |x| and OR x's sign
// bit back, so negative inputs mirror these exactly; beyond 4 the result is
// 1), with the limits of TestLogistic and TestErf, on the kernels this CPU
// prefers. Measured on an AMD EPYC with AVX-512, AVX2 and AVX-512 kernels
// alike: Logistic within 3 ulp, Erf within 7.1e-8 and 1 ulp on [0, 0.9]
// (KATA_VMATH_EXHAUSTIVE=1 go test -run Exhaustive -v -timeout 60m
// ./model/backend/vmath).
func TestActivationsExhaustive(t *testing.T) {
	if os.Getenv(exhaustiveEnv) != "1" {
		t.Skipf("set %s=1 to check every float32 (minutes)", exhaustiveEnv)
	}
	t.Logf("AVX-512 kernels: %v", useAVX512)
	// sweep calls check on kernel's results for every float32 whose bits run
	// from lo to hi, a chunk at a time.
	sweep := func(kernel func(dst, src []float32), lo, hi uint32, check func(x, y float32)) {
		const chunk = 1 << 20
		src, dst := make([]float32, 0, chunk), make([]float32, chunk)
		for b := uint64(lo); b <= uint64(hi); b++ {
			src = append(src, math.Float32frombits(uint32(b)))
			if len(src) == chunk || b == uint64(hi) {
				kernel(dst, src)
				for i, x := range src {
					check(x, dst[i])
				}
				src = src[:0]
			}
		}
	}
	var logUlp int64
	var failures int
	report := func(err string) {
		if err != "" && failures < 20 {
			t.Error(err)
			failures++
		}
	}
	logistic := func(x, y float32) {
		u, err := logisticError(x, y)
		logUlp = max(logUlp, u)
		report(err)
	}
	sweep(Logistic, 0, math.Float32bits(20), logistic)
	sweep(Logistic, math.Float32bits(float32(math.Copysign(0, -1))), math.Float32bits(-104), logistic)
	var erfAbs float64
	var erfUlp int64
	sweep(Erf, 0, math.Float32bits(4.5), func(x, y float32) {
		d, u, err := erfError(x, y)
		erfAbs, erfUlp = max(erfAbs, d), max(erfUlp, u)
		report(err)
	})
	t.Logf("logistic: max %d ulp; erf: max absolute error %.3g, max %d ulp on [0, 0.9]", logUlp, erfAbs, erfUlp)
}

// simdVariants runs test once per set of unary kernels this CPU has: AVX2
// (or the portable path alone, without it) and AVX-512 where present.
func simdVariants(t *testing.T, test func(t *testing.T)) {
	variants := []string{"avx2"}
	if hasAVX512 {
		variants = append(variants, "avx512")
	}
	for _, name := range variants {
		t.Run(name, func(t *testing.T) {
			prev := useAVX512
			useAVX512 = name == "avx512"
			defer func() { useAVX512 = prev }()
			test(t)
		})
	}
}

// TestUnaryKernelsAgree requires the AVX-512 and AVX2 kernels of Exp, Logistic
// and Erf to give the same bits (they run the same operations), and every
// length from 1 to 48 (AVX-512 blocks, an AVX2 block, the portable tail) to
// give the results of the whole slice up to its portable tail.
func TestUnaryKernelsAgree(t *testing.T) {
	xs := activationInputs(0.9, 4, 87.33)
	for _, k := range []struct {
		name   string
		kernel func(dst, src []float32)
	}{{"exp", Exp}, {"logistic", Logistic}, {"erf", Erf}} {
		run := func(avx512 bool, src []float32) []float32 {
			prev := useAVX512
			useAVX512 = avx512
			defer func() { useAVX512 = prev }()
			dst := make([]float32, len(src))
			k.kernel(dst, src)
			return dst
		}
		same := func(a, b float32) bool {
			return math.Float32bits(a) == math.Float32bits(b) || math.IsNaN(float64(a)) && math.IsNaN(float64(b))
		}
		want := run(false, xs)
		if hasAVX512 {
			for i, y := range run(true, xs) {
				if !same(y, want[i]) {
					t.Fatalf("%s(%g): AVX-512 %g, AVX2 %g", k.name, xs[i], y, want[i])
				}
			}
		}
		for m := 1; m <= 48; m++ {
			got := run(hasAVX512, xs[:m])
			for i := range m &^ 7 {
				if !same(got[i], want[i]) {
					t.Fatalf("%s over %d elements: element %d = %g, %g over all", k.name, m, i, got[i], want[i])
				}
			}
		}
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
