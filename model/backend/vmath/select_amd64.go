package vmath

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

var hasSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// hasAVX512 reports whether the unary kernels (exp, logistic, erf) have
// AVX-512 versions to run on this CPU; useAVX512 selects them (tests switch it
// off to run the AVX2 kernels on AVX-512 machines).
var (
	hasAVX512 = hasSIMD && cpu.X86.HasAVX512F
	useAVX512 = hasAVX512
)

// unarySIMD runs the AVX-512 kernel k512 (if in use) over the longest
// multiple-of-16 prefix of src and the AVX2 kernel k2 over the rest down to a
// multiple of 8, and returns how many elements they did.
func unarySIMD(k2, k512 func(n int, dst, src *float32), dst, src []float32) int {
	if !hasSIMD {
		return 0
	}
	done := 0
	if useAVX512 {
		if done = len(src) &^ 15; done > 0 {
			k512(done, unsafe.SliceData(dst), unsafe.SliceData(src))
		}
	}
	if n := len(src) &^ 7; n > done {
		k2(n-done, &dst[done], &src[done])
		done = n
	}
	return done
}

func expSIMD(dst, src []float32) int { return unarySIMD(expAVX2, expAVX512, dst, src) }

var binaryKernels = [4][3]func(n int, dst, a, b *float32){
	{binAddVV, binAddVS, binAddSV},
	{binSubVV, binSubVS, binSubSV},
	{binMulVV, binMulVS, binMulSV},
	{binDivVV, binDivVS, binDivSV},
}

// streamKernels are binaryKernels with non-temporal stores.
var streamKernels = [4][3]func(n int, dst, a, b *float32){
	{binAddVVNT, binAddVSNT, binAddSVNT},
	{binSubVVNT, binSubVSNT, binSubSVNT},
	{binMulVVNT, binMulVSNT, binMulSVNT},
	{binDivVVNT, binDivVSNT, binDivSVNT},
}

// binarySIMD handles the longest multiple-of-8 prefix and returns its length.
func binarySIMD(op Op, dst, a, b []float32, scalarA, scalarB, stream bool) int {
	n := len(dst) &^ 7
	if !hasSIMD || n == 0 || (scalarA && scalarB) || op < Add || op > Div {
		return 0
	}
	mode := 0
	switch {
	case scalarB:
		mode = 1
	case scalarA:
		mode = 2
	}
	kernels := &binaryKernels
	if stream && uintptr(unsafe.Pointer(unsafe.SliceData(dst)))%32 == 0 {
		kernels = &streamKernels
	}
	kernels[op][mode](n, unsafe.SliceData(dst), unsafe.SliceData(a), unsafe.SliceData(b))
	return n
}

func sumSIMD(x []float32) (int, float32) {
	n := len(x) &^ 31
	if !hasSIMD || n == 0 {
		return 0, 0
	}
	return n, rowSumAVX2(n, unsafe.SliceData(x))
}

func maxSIMD(x []float32) (int, float32) {
	n := len(x) &^ 31
	if !hasSIMD || n == 0 {
		return 0, 0
	}
	return n, rowMaxAVX2(n, unsafe.SliceData(x))
}

// dots4SIMD sets out[0:4] to the products of a[:n] with four rows of b (n a
// positive multiple of 16; the caller checked the bounds).
func dots4SIMD(n int, a, b []float32, ldb int, out []float32) {
	dot4AVX2(n, unsafe.SliceData(a), unsafe.SliceData(b), ldb, unsafe.SliceData(out))
}

// axpy4SIMD adds alpha[j]*x[i] to y[j*ldy+i] for i < n, j < 4 (n a positive
// multiple of 8; the caller checked the bounds).
func axpy4SIMD(n int, x, alpha, y []float32, ldy int) {
	axpy4AVX2(n, unsafe.SliceData(x), unsafe.SliceData(alpha), unsafe.SliceData(y), ldy)
}

func logisticSIMD(dst, src []float32) int { return unarySIMD(logisticAVX2, logisticAVX512, dst, src) }

func erfSIMD(dst, src []float32) int { return unarySIMD(erfAVX2, erfAVX512, dst, src) }
