// Command asmgen generates the float32 kernels of package vmath with avo: exp,
// the logistic function and erf in AVX2 and AVX-512 versions (unary.go,
// activation.go), and in AVX2 add/sub/mul/div of two vectors or of a vector
// and a scalar, row sum and max, and the dot-product and row-accumulate
// kernels of narrow matrix products.
//
// Run through `go generate ./model/backend/vmath`; it writes vmath_amd64.s and
// vmath_amd64_stubs.go.
//
// The algorithm is Cephes' expf: n = round(x*log2(e)), r = x - n*ln(2) (in two
// parts), exp(r) by a degree-7 polynomial, times 2^n. 2^n is applied as two
// factors 2^(n>>1) * 2^(n-(n>>1)) so that results near overflow and in the
// denormal range stay exact. x is first clamped to [-104, 89]: beyond those
// bounds the same arithmetic rounds to 0 and overflows to +Inf, so no special
// case needs a compare and blend; NaN passes the clamp and stays NaN.
package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// vec declares a read-only 64-byte constant holding 16 copies of a 32-bit
// value (AVX2 kernels read its first 32 bytes).
func vec(name string, bits uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(4*i, U32(bits))
	}
	return m
}

func f(name string, v float32) Mem { return vec(name, math.Float32bits(v)) }

func main() {
	ConstraintExpr("amd64")

	declareExp()
	declareActivations()
	for _, v := range []isa{avx2, avx512} {
		exp(v)
		logistic(v)
		erf(v)
	}

	for _, op := range []struct {
		name string
		inst func(...Op)
	}{{"Add", VADDPS}, {"Sub", VSUBPS}, {"Mul", VMULPS}, {"Div", VDIVPS}} {
		for _, mode := range []string{"VV", "VS", "SV"} {
			binary(op.name, mode, op.inst, false)
			binary(op.name, mode, op.inst, true)
		}
	}
	reduce("rowSumAVX2", false)
	reduce("rowMaxAVX2", true)
	dot4()
	axpy4()
	Generate()
}

// reduce emits the sum or max of n floats (n a multiple of 32) with four vector
// accumulators. The max also ORs an "is NaN" mask so that a NaN anywhere makes the
// result NaN, as Go's max does.
func reduce(fn string, isMax bool) {
	TEXT(fn, NOSPLIT, "func(n int, x *float32) float32")
	Pragma("noescape")
	if isMax {
		Doc(fn + " returns the largest of n floats, NaN if any is NaN (n a positive multiple of 32; needs AVX).")
	} else {
		Doc(fn + " returns the sum of n floats (n a multiple of 32; needs AVX).")
	}
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	acc := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3}
	nan := []reg.VecPhysical{reg.Y4, reg.Y5, reg.Y6, reg.Y7}
	tmp := []reg.VecPhysical{reg.Y8, reg.Y9, reg.Y10, reg.Y11}
	for i, r := range acc {
		if isMax {
			VMOVUPS(Mem{Base: x, Disp: 32 * i}, r)
			VXORPS(nan[i], nan[i], nan[i])
		} else {
			VXORPS(r, r, r)
		}
	}
	TESTQ(n, n)
	JZ(LabelRef(fn + "_fold"))
	Label(fn + "_loop")
	for i, r := range acc {
		m := Mem{Base: x, Disp: 32 * i}
		if isMax {
			VMOVUPS(m, tmp[i])
			VCMPPS(U8(0x03), tmp[i], tmp[i], reg.Y12)
			VORPS(reg.Y12, nan[i], nan[i])
			VMAXPS(tmp[i], r, r)
		} else {
			VADDPS(m, r, r)
		}
	}
	ADDQ(U32(128), x)
	SUBQ(U32(32), n)
	JNZ(LabelRef(fn + "_loop"))
	Label(fn + "_fold")
	op := VADDPS
	if isMax {
		op = VMAXPS
		VORPS(nan[1], nan[0], nan[0])
		VORPS(nan[3], nan[2], nan[2])
		VORPS(nan[2], nan[0], nan[0])
	}
	op(acc[1], acc[0], acc[0])
	op(acc[3], acc[2], acc[2])
	op(acc[2], acc[0], acc[0])
	if isMax {
		// Lanes that saw a NaN become NaN (x | all-ones mask is a NaN pattern).
		VORPS(nan[0], acc[0], acc[0])
	}
	// Fold 8 lanes to 1.
	VEXTRACTF128(U8(1), acc[0], reg.X1)
	op(reg.X1, reg.X0, reg.X0)
	VPERMILPS(U8(0x4e), reg.X0, reg.X1)
	op(reg.X1, reg.X0, reg.X0)
	VPERMILPS(U8(0xb1), reg.X0, reg.X1)
	op(reg.X1, reg.X0, reg.X0)
	if isMax {
		// VMAXPS drops NaNs; restore them from the mask folded the same way.
		VEXTRACTF128(U8(1), nan[0], reg.X5)
		VORPS(reg.X5, reg.X4, reg.X4)
		VPERMILPS(U8(0x4e), reg.X4, reg.X5)
		VORPS(reg.X5, reg.X4, reg.X4)
		VPERMILPS(U8(0xb1), reg.X4, reg.X5)
		VORPS(reg.X5, reg.X4, reg.X4)
		VORPS(reg.X4, reg.X0, reg.X0)
	}
	VZEROUPPER()
	Store(reg.X0, ReturnIndex(0))
	RET()
}

// binary emits dst[i] = a[i] op b[i] for 8 floats per step; mode VS broadcasts
// b[0], SV broadcasts a[0]. The stream variant ("NT" suffix) writes dst with
// non-temporal stores, which skip reading each destination line into the cache
// first: for outputs far larger than the caches that is a third less memory
// traffic. It needs dst 32-byte aligned.
func binary(name, mode string, inst func(...Op), stream bool) {
	fn := "bin" + name + mode
	doc := fn + " sets dst[i] = a op b over n floats (n a multiple of 8; needs AVX)."
	if stream {
		fn += "NT"
		doc = fn + " sets dst[i] = a op b over n floats with non-temporal stores (n a multiple of 8, dst 32-byte aligned; needs AVX)."
	}
	TEXT(fn, NOSPLIT, "func(n int, dst, a, b *float32)")
	Pragma("noescape")
	Doc(doc)
	n := Load(Param("n"), GP64())
	dst := Load(Param("dst"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	switch mode {
	case "VS":
		VBROADCASTSS(Mem{Base: b}, reg.Y1)
	case "SV":
		VBROADCASTSS(Mem{Base: a}, reg.Y0)
	}
	TESTQ(n, n)
	JZ(LabelRef(fn + "_done"))
	Label(fn + "_loop")
	switch mode {
	case "VV":
		VMOVUPS(Mem{Base: a}, reg.Y0)
		inst(Mem{Base: b}, reg.Y0, reg.Y2)
		ADDQ(U32(32), a)
		ADDQ(U32(32), b)
	case "VS":
		VMOVUPS(Mem{Base: a}, reg.Y0)
		inst(reg.Y1, reg.Y0, reg.Y2)
		ADDQ(U32(32), a)
	case "SV":
		VMOVUPS(Mem{Base: b}, reg.Y1)
		inst(reg.Y1, reg.Y0, reg.Y2)
		ADDQ(U32(32), b)
	}
	if stream {
		VMOVNTPS(reg.Y2, Mem{Base: dst})
	} else {
		VMOVUPS(reg.Y2, Mem{Base: dst})
	}
	ADDQ(U32(32), dst)
	SUBQ(U32(8), n)
	JNZ(LabelRef(fn + "_loop"))
	Label(fn + "_done")
	if stream {
		SFENCE() // order the weakly ordered stores before anything that publishes dst
	}
	VZEROUPPER()
	RET()
}

// dot4 emits out[j] = sum_i a[i]*b[j*ldb+i] for j < 4 and i < n (n a multiple
// of 16): the rows of a narrow matrix product, reading a once. Two accumulators
// per output hide the FMA latency.
func dot4() {
	const fn = "dot4AVX2"
	TEXT(fn, NOSPLIT, "func(n int, a, b *float32, ldb int, out *float32)")
	Pragma("noescape")
	Doc(fn + " sets out[j] = sum of a[i]*b[j*ldb+i] over i < n, for j < 4 (n a multiple of 16; needs AVX2 and FMA3).")
	n := Load(Param("n"), GP64())
	a := Load(Param("a"), GP64())
	b0 := Load(Param("b"), GP64())
	ldb := Load(Param("ldb"), GP64())
	out := Load(Param("out"), GP64())
	SHLQ(U8(2), ldb)
	b1, b2, b3 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: b0, Index: ldb, Scale: 1}, b1)
	LEAQ(Mem{Base: b1, Index: ldb, Scale: 1}, b2)
	LEAQ(Mem{Base: b2, Index: ldb, Scale: 1}, b3)
	bs := []reg.Register{b0, b1, b2, b3}
	acc := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7}
	for _, r := range acc {
		VXORPS(r, r, r)
	}
	x0, x1 := reg.Y8, reg.Y9
	TESTQ(n, n)
	JZ(LabelRef(fn + "_fold"))
	Label(fn + "_loop")
	VMOVUPS(Mem{Base: a}, x0)
	VMOVUPS(Mem{Base: a, Disp: 32}, x1)
	for j, b := range bs {
		VFMADD231PS(Mem{Base: b}, x0, acc[j])
		VFMADD231PS(Mem{Base: b, Disp: 32}, x1, acc[4+j])
	}
	ADDQ(U32(64), a)
	for _, b := range bs {
		ADDQ(U32(64), b)
	}
	SUBQ(U32(16), n)
	JNZ(LabelRef(fn + "_loop"))
	Label(fn + "_fold")
	for j := range 4 {
		VADDPS(acc[4+j], acc[j], acc[j])
	}
	// [s0 s1 s2 s3] from the four 8-lane sums with two rounds of pairwise adds.
	VHADDPS(acc[1], acc[0], acc[0])
	VHADDPS(acc[3], acc[2], acc[2])
	VHADDPS(acc[2], acc[0], acc[0])
	VEXTRACTF128(U8(1), acc[0], reg.X1)
	VADDPS(reg.X1, reg.X0, reg.X0)
	VMOVUPS(reg.X0, Mem{Base: out})
	VZEROUPPER()
	RET()
}

// axpy4 emits y[j*ldy+i] += alpha[j]*x[i] for j < 4 and i < n (n a multiple of
// 8): one step of a narrow product accumulated row by row, reading x once.
func axpy4() {
	const fn = "axpy4AVX2"
	TEXT(fn, NOSPLIT, "func(n int, x, alpha, y *float32, ldy int)")
	Pragma("noescape")
	Doc(fn + " adds alpha[j]*x[i] to y[j*ldy+i] for i < n and j < 4 (n a multiple of 8; needs AVX2 and FMA3).")
	n := Load(Param("n"), GP64())
	x := Load(Param("x"), GP64())
	alpha := Load(Param("alpha"), GP64())
	y0 := Load(Param("y"), GP64())
	ldy := Load(Param("ldy"), GP64())
	SHLQ(U8(2), ldy)
	y1, y2, y3 := GP64(), GP64(), GP64()
	LEAQ(Mem{Base: y0, Index: ldy, Scale: 1}, y1)
	LEAQ(Mem{Base: y1, Index: ldy, Scale: 1}, y2)
	LEAQ(Mem{Base: y2, Index: ldy, Scale: 1}, y3)
	ys := []reg.Register{y0, y1, y2, y3}
	al := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3}
	acc := []reg.VecPhysical{reg.Y4, reg.Y5, reg.Y6, reg.Y7}
	for j, r := range al {
		VBROADCASTSS(Mem{Base: alpha, Disp: 4 * j}, r)
	}
	TESTQ(n, n)
	JZ(LabelRef(fn + "_done"))
	Label(fn + "_loop")
	VMOVUPS(Mem{Base: x}, reg.Y8)
	for j, y := range ys {
		VMOVUPS(Mem{Base: y}, acc[j])
		VFMADD231PS(reg.Y8, al[j], acc[j])
		VMOVUPS(acc[j], Mem{Base: y})
	}
	ADDQ(U32(32), x)
	for _, y := range ys {
		ADDQ(U32(32), y)
	}
	SUBQ(U32(8), n)
	JNZ(LabelRef(fn + "_loop"))
	Label(fn + "_done")
	VZEROUPPER()
	RET()
}
