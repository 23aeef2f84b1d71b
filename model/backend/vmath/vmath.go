// Package vmath holds vectorised float32 math for the pure-Go backend's hot
// elementwise ops: Exp (softmax, SiLU's sigmoid), Binary, Sum, Max, and the
// Dots/AddScaled kernels of narrow matrix products, with AVX2 kernels generated
// by ./asmgen and portable fallbacks.
package vmath

//go:generate go run ./asmgen -out vmath_amd64.s -stubs vmath_amd64_stubs.go -pkg vmath

import "math"

// Exp sets dst[i] = exp(src[i]) for i < len(src) (dst must be at least as long).
// The SIMD path is within 2 ulp of math.Exp for normal results; results below
// the smallest denormal are 0, above MaxFloat32 +Inf, NaN stays NaN.
func Exp(dst, src []float32) {
	dst = dst[:len(src)]
	done := expSIMD(dst, src)
	for i := done; i < len(src); i++ {
		dst[i] = float32(math.Exp(float64(src[i])))
	}
}

// HasSIMD reports whether Exp uses a SIMD kernel on this CPU.
func HasSIMD() bool { return hasSIMD }
