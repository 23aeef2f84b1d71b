package vmath

import "math"

// Logistic sets dst[i] = 1/(1+exp(-src[i])) (the sigmoid) for i < len(src)
// (dst must be at least as long; dst may be src). The SIMD path computes
// e = exp(-|x|), q = 1/(1+e) and returns q for x >= 0, e*q for x < 0: within
// 4 ulp of the exact value for results of at least 1.2e-38 (measured by
// TestLogistic: at most 3 ulp), smaller ones (x < -87.3) within 1.2e-38; 0 for
// -Inf, 1 for +Inf, 0.5 for ±0, NaN for NaN. The portable path (tails and CPUs
// without AVX2/FMA) computes the same formula in float64 with math.Exp.
func Logistic(dst, src []float32) {
	dst = dst[:len(src)]
	done := logisticSIMD(dst, src)
	logisticGo(dst[done:], src[done:])
}

// logisticGo is Logistic's portable path.
func logisticGo(dst, src []float32) {
	for i, x := range src {
		dst[i] = float32(1 / (1 + math.Exp(-float64(x))))
	}
}

// Erf sets dst[i] = erf(src[i]) for i < len(src) (dst must be at least as
// long; dst may be src). The SIMD path evaluates x*P(x^2) for |x| <= 0.9 and
// 1 - exp(-x^2)*R(x) above (polynomials fitted by Chebyshev interpolation, see
// asmgen/activation.go), ±1 beyond |x| = 4: absolute error at most 2e-7 and,
// for |x| <= 0.9, relative error at most 2 ulp (TestErf measures both); -0
// stays -0, NaN stays NaN. The portable path (tails and CPUs without
// AVX2/FMA) is math.Erf in float64.
func Erf(dst, src []float32) {
	dst = dst[:len(src)]
	done := erfSIMD(dst, src)
	erfGo(dst[done:], src[done:])
}

// erfGo is Erf's portable path.
func erfGo(dst, src []float32) {
	for i, x := range src {
		dst[i] = float32(math.Erf(float64(x)))
	}
}
