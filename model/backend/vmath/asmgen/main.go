// Command asmgen generates the AVX2 float32 exp kernel of package vmath with avo.
//
// Run through `go generate ./model/backend/vmath`; it writes exp_amd64.s and
// exp_amd64_stubs.go.
//
// The algorithm is Cephes' expf: n = round(x*log2(e)), r = x - n*ln(2) (in two
// parts), exp(r) by a degree-7 polynomial, times 2^n. 2^n is applied as two
// factors 2^(n>>1) * 2^(n-(n>>1)) so that results near overflow and in the
// denormal range stay exact. x > ln(MaxFloat32) gives +Inf, x below the denormal
// range gives 0, NaN gives NaN.
package main

import (
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// vec declares a read-only 32-byte constant holding 8 copies of a 32-bit value.
func vec(name string, bits uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(bits))
	}
	return m
}

func f(name string, v float32) Mem { return vec(name, math.Float32bits(v)) }

func main() {
	ConstraintExpr("amd64")

	overflow := f("expOverflow", 88.72283935546875) // ln(MaxFloat32)
	underflow := f("expUnderflow", -103.97208)      // below: result < smallest denormal
	log2e := f("expLog2e", 1.44269504088896341)
	c1 := f("expC1", 0.693359375)
	c2 := f("expC2", -2.12194440e-4)
	poly := []Mem{
		f("expP0", 1.9875691500e-4), f("expP1", 1.3981999507e-3), f("expP2", 8.3334519073e-3),
		f("expP3", 4.1665795894e-2), f("expP4", 1.6666665459e-1), f("expP5", 5.0000001201e-1),
	}
	one := f("expOne", 1)
	bias := vec("expBias", 127)
	inf := vec("expInf", 0x7f800000)
	zero := vec("expZero", 0)

	TEXT("expAVX2", NOSPLIT, "func(n int, dst, src *float32)")
	Pragma("noescape")
	Doc("expAVX2 sets dst[i] = exp(src[i]) for i < n; n must be a multiple of 8 (needs AVX2 and FMA3).")
	n := Load(Param("n"), GP64())
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	x, r, nf, p, over, nan, r2, under, a, b := reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7, reg.Y8, reg.Y9

	TESTQ(n, n)
	JZ(LabelRef("done"))
	Label("loop")
	VMOVUPS(Mem{Base: src}, x)
	VCMPPS(U8(0x1e), overflow, x, over) // x > overflow (ordered)
	VCMPPS(U8(0x11), underflow, x, under) // x < underflow (ordered)
	VCMPPS(U8(0x03), x, x, nan)           // x is NaN
	VMINPS(overflow, x, r)
	VMAXPS(underflow, r, r)
	VMULPS(log2e, r, nf)
	VROUNDPS(U8(0), nf, nf)
	VFNMADD231PS(c1, nf, r)
	VFNMADD231PS(c2, nf, r)
	VMOVUPS(poly[0], p)
	for _, c := range poly[1:] {
		VFMADD213PS(c, r, p)
	}
	VMULPS(r, r, r2)
	VFMADD213PS(r, r2, p)
	VADDPS(one, p, p)
	// 2^n = 2^a * 2^b with a = n>>1, b = n-a, each a normal float.
	VCVTPS2DQ(nf, nf)
	VPSRAD(U8(1), nf, a)
	VPSUBD(a, nf, b)
	VPADDD(bias, a, a)
	VPADDD(bias, b, b)
	VPSLLD(U8(23), a, a)
	VPSLLD(U8(23), b, b)
	VMULPS(a, p, p)
	VMULPS(b, p, p)
	VBLENDVPS(over, inf, p, p)
	VBLENDVPS(under, zero, p, p)
	VBLENDVPS(nan, x, p, p)
	VMOVUPS(p, Mem{Base: dst})
	ADDQ(U32(32), src)
	ADDQ(U32(32), dst)
	SUBQ(U32(8), n)
	JNZ(LabelRef("loop"))
	Label("done")
	VZEROUPPER()
	RET()
	Generate()
}
