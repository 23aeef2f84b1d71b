package main

import (
	"strconv"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// isa is the vector instruction set a unary kernel is generated for: AVX2 with
// FMA3 (8 floats per vector) or AVX-512F (16). The few instructions without an
// encoding in both (rounding, bitwise ops on floats, blends) go through its
// methods.
type isa struct {
	suffix string // of the kernel's name
	needs  string // for its doc comment
	lanes  int
	avx512 bool
}

var (
	avx2   = isa{"AVX2", "needs AVX2 and FMA3", 8, false}
	avx512 = isa{"AVX512", "needs AVX-512F", 16, true}
)

func (v isa) vec() reg.VecVirtual {
	if v.avx512 {
		return ZMM()
	}
	return YMM()
}

// round sets dst to x rounded to the nearest integer (ties to even).
func (v isa) round(x, dst Op) {
	if v.avx512 {
		VRNDSCALEPS(U8(0), x, dst)
	} else {
		VROUNDPS(U8(0), x, dst)
	}
}

func (v isa) and(m, x, dst Op) {
	if v.avx512 {
		VPANDD(m, x, dst)
	} else {
		VANDPS(m, x, dst)
	}
}

func (v isa) or(m, x, dst Op) {
	if v.avx512 {
		VPORD(m, x, dst)
	} else {
		VORPS(m, x, dst)
	}
}

func (v isa) xor(m, x, dst Op) {
	if v.avx512 {
		VPXORD(m, x, dst)
	} else {
		VXORPS(m, x, dst)
	}
}

// selectNeg sets dst to ifNeg in the lanes where x's sign bit is set, ifPos in
// the others.
func (v isa) selectNeg(x, ifNeg, ifPos, dst reg.VecVirtual) {
	if v.avx512 {
		k := K()
		VPTESTMD(signBit(), x, k)
		VBLENDMPS(ifNeg, ifPos, k, dst)
	} else {
		VBLENDVPS(x, ifNeg, ifPos, dst)
	}
}

// selectGT sets dst to ifGT in the lanes where a > b (ordered: false for NaN),
// ifNot in the others.
func (v isa) selectGT(a reg.VecVirtual, b Mem, ifGT, ifNot, dst reg.VecVirtual) {
	const gtOQ = 0x1e
	if v.avx512 {
		k := K()
		VCMPPS(U8(gtOQ), b, a, k)
		VBLENDMPS(ifGT, ifNot, k, dst)
	} else {
		mask := YMM()
		VCMPPS(U8(gtOQ), b, a, mask)
		VBLENDVPS(mask, ifGT, ifNot, dst)
	}
}

// unary emits fn(n int, dst, src *float32), dst[i] = op(src[i]) for i < n (n a
// multiple of v.lanes): two vectors per iteration, whose independent chains
// keep both FMA pipes busy, and one more for an odd count of vectors. op
// computes one vector from x (which it may overwrite) and returns the result's
// register; kernel is called once, after the arguments are loaded, to load
// what the loop keeps in registers, and returns op.
func unary(v isa, fn, doc string, kernel func() func(x reg.VecVirtual) reg.VecVirtual) {
	TEXT(fn, NOSPLIT, "func(n int, dst, src *float32)")
	Pragma("noescape")
	Doc(doc)
	n := Load(Param("n"), GP64())
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	op := kernel()
	size := 4 * v.lanes
	body := func(off int) {
		x := v.vec()
		VMOVUPS(Mem{Base: src, Disp: off}, x)
		VMOVUPS(op(x), Mem{Base: dst, Disp: off})
	}
	CMPQ(n, U8(2*v.lanes))
	JB(LabelRef(fn + "_tail"))
	Label(fn + "_loop")
	body(0)
	body(size)
	ADDQ(U8(2*size), src)
	ADDQ(U8(2*size), dst)
	SUBQ(U8(2*v.lanes), n)
	CMPQ(n, U8(2*v.lanes))
	JAE(LabelRef(fn + "_loop"))
	Label(fn + "_tail")
	TESTQ(n, n)
	JZ(LabelRef(fn + "_done"))
	body(0)
	Label(fn + "_done")
	VZEROUPPER()
	RET()
}

// exp generates expAVX2 / expAVX512.
func exp(v isa) {
	fn := "exp" + v.suffix
	unary(v, fn, fn+" sets dst[i] = exp(src[i]) for i < n; n must be a multiple of "+itoa(v.lanes)+" ("+v.needs+").",
		func() func(x reg.VecVirtual) reg.VecVirtual {
			bounds := loadExpBounds(v)
			return func(x reg.VecVirtual) reg.VecVirtual { return expOf(v, bounds, x) }
		})
}

// expConst holds the constants of expOf, declared once (declareExp).
var expConst struct {
	lo, hi, log2e, c1, c2, one, bias Mem
	poly                             []Mem
}

func declareExp() {
	c := &expConst
	c.lo = f("expLo", -104)
	c.hi = f("expHi", 89)
	c.log2e = f("expLog2e", 1.44269504088896341)
	c.c1 = f("expC1", 0.693359375)
	c.c2 = f("expC2", -2.12194440e-4)
	c.poly = []Mem{
		f("expP0", 1.9875691500e-4), f("expP1", 1.3981999507e-3), f("expP2", 8.3334519073e-3),
		f("expP3", 4.1665795894e-2), f("expP4", 1.6666665459e-1), f("expP5", 5.0000001201e-1),
	}
	c.one = f("expOne", 1)
	c.bias = vec("expBias", 127)
}

// expBounds holds exp's clamp bounds in registers, loaded once per kernel.
type expBounds struct{ lo, hi reg.VecVirtual }

func loadExpBounds(v isa) expBounds {
	b := expBounds{v.vec(), v.vec()}
	VMOVUPS(expConst.lo, b.lo)
	VMOVUPS(expConst.hi, b.hi)
	return b
}

// expOf emits exp of the floats in x (which it overwrites) and returns the
// register holding the result.
func expOf(v isa, bounds expBounds, x reg.VecVirtual) reg.VecVirtual {
	c := &expConst
	// x is the second source of MINPS/MAXPS, the one they return for NaN.
	VMINPS(x, bounds.hi, x)
	VMAXPS(x, bounds.lo, x)
	nf := v.vec()
	VMULPS(c.log2e, x, nf)
	v.round(nf, nf)
	VFNMADD231PS(c.c1, nf, x)
	VFNMADD231PS(c.c2, nf, x)
	p := v.vec()
	VMOVUPS(c.poly[0], p)
	for _, k := range c.poly[1:] {
		VFMADD213PS(k, x, p)
	}
	r2 := v.vec()
	VMULPS(x, x, r2)
	VFMADD213PS(x, r2, p)
	VADDPS(c.one, p, p)
	// 2^n = 2^a * 2^b with a = n>>1, b = n-a, each a normal float.
	VCVTPS2DQ(nf, nf)
	a, b := v.vec(), v.vec()
	VPSRAD(U8(1), nf, a)
	VPSUBD(a, nf, b)
	VPADDD(c.bias, a, a)
	VPADDD(c.bias, b, b)
	VPSLLD(U8(23), a, a)
	VPSLLD(U8(23), b, b)
	VMULPS(a, p, p)
	VMULPS(b, p, p)
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }
