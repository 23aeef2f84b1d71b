package main

import (
	"strconv"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The activations' kernels: the logistic function (SiLU's and quickGELU's
// sigmoid) and erf (exact GELU), both built on expOf.

// Erf's approximation (coefficients fitted by Chebyshev interpolation in
// float64 and rounded to float32). On |x| <= erfSplit, erf(x) = x*P(x^2) with P
// of degree 8, its constant term split in two float32s so that the last step,
// x*P0hi + x*(P0lo + x^2*...), rounds once. Above, erf(x) = 1 - exp(-x^2)*R(u)
// with R a degree-11 polynomial in u = (x - 2.45)/1.55, fitting
// erfc(x)*exp(x^2) on [0.9, 4]; |x| is clamped to 4, where 1 - erfc rounds to 1.
const erfSplit = 0.9

var (
	erfSmall = []float32{1.1283792, -0.37612638, 0.11283792, -0.026866158, 0.005223905,
		-0.0008545707, 0.000119994, -1.4220328e-05, 1.1506049e-06}
	erfSmallLo = float32(-5.8635518e-08)
	erfBig     = []float32{0.21458708, -0.11919874, 0.06288908, -0.031704843, 0.015336103, -0.0071547152,
		0.003267527, -0.0014257008, 0.0005260852, -0.00022053483, 0.00015966843, -6.1559615e-05}
	erfUScale, erfUShift = float32(0.6451613), float32(-1.5806452)
)

// erfConst holds erf's constants, declared once (declareActivations).
var erfConst struct {
	abs, split, hi, smallLo, uScale, uShift Mem
	small, big                              []Mem
}

var signMem *Mem

// signBit returns the constant with only the sign bit set in each lane.
func signBit() Mem {
	if signMem == nil {
		m := vec("signBit", 0x80000000)
		signMem = &m
	}
	return *signMem
}

func declareActivations() {
	signBit()
	c := &erfConst
	c.abs = vec("erfAbs", 0x7fffffff)
	c.split = f("erfSplit", erfSplit)
	c.hi = f("erfHi", 4)
	c.small = make([]Mem, len(erfSmall))
	for i, k := range erfSmall {
		c.small[i] = f("erfS"+strconv.Itoa(i), k)
	}
	c.smallLo = f("erfSLo", erfSmallLo)
	c.big = make([]Mem, len(erfBig))
	for i, k := range erfBig {
		c.big[i] = f("erfB"+strconv.Itoa(i), k)
	}
	c.uScale, c.uShift = f("erfUScale", erfUScale), f("erfUShift", erfUShift)
}

// logistic generates logisticAVX2 / logisticAVX512: with e = exp(-|x|) (in
// (0, 1], never overflowing) and q = 1/(1+e), sigmoid(x) is q for x >= 0 and
// e*q = 1-q for x < 0, taken from the sign bit of x with one blend. Each step
// is a relative-error operation (exp within 2 ulp, then an add, a division and
// a product, each rounded once), so small results keep their relative
// accuracy. -Inf gives e = 0 and 0, +Inf 1, -0 one half; NaN stays NaN
// through exp.
func logistic(v isa) {
	fn := "logistic" + v.suffix
	unary(v, fn, fn+" sets dst[i] = 1/(1+exp(-src[i])) for i < n; n must be a multiple of "+itoa(v.lanes)+" ("+v.needs+").",
		func() func(x reg.VecVirtual) reg.VecVirtual {
			bounds := loadExpBounds(v)
			return func(x reg.VecVirtual) reg.VecVirtual {
				m := v.vec()
				v.or(signBit(), x, m) // -|x|
				e := expOf(v, bounds, m)
				q := v.vec()
				VADDPS(expConst.one, e, m)
				VMOVUPS(expConst.one, q)
				VDIVPS(m, q, q)
				VMULPS(q, e, e)
				v.selectNeg(x, e, q, q)
				return q
			}
		})
}

// erf generates erfAVX2 / erfAVX512 from both branches on every lane, blended
// by |x| > erfSplit (false for NaN, which the small branch propagates), and
// the sign of x put back (erf is odd; -0 stays -0).
func erf(v isa) {
	c := &erfConst
	fn := "erf" + v.suffix
	unary(v, fn, fn+" sets dst[i] = erf(src[i]) for i < n; n must be a multiple of "+itoa(v.lanes)+" ("+v.needs+").",
		func() func(x reg.VecVirtual) reg.VecVirtual {
			bounds := loadExpBounds(v)
			return func(x reg.VecVirtual) reg.VecVirtual {
				a := v.vec()
				v.and(c.abs, x, a)
				v.xor(a, x, x) // the sign bit alone
				// Small branch: a*P0hi + a*(P0lo + t*Q(t)), t = a^2.
				t, s := v.vec(), v.vec()
				VMULPS(a, a, t)
				VMOVUPS(c.small[len(c.small)-1], s)
				for i := len(c.small) - 2; i >= 1; i-- {
					VFMADD213PS(c.small[i], t, s)
				}
				VFMADD213PS(c.smallLo, t, s)
				VMULPS(a, s, s)
				VFMADD231PS(c.small[0], a, s)
				// Big branch: 1 - exp(-b^2)*R(u), b = min(a, 4).
				b, u, r := v.vec(), v.vec(), v.vec()
				VMINPS(c.hi, a, b)
				VMOVUPS(c.uShift, u)
				VFMADD231PS(c.uScale, b, u)
				VMOVUPS(c.big[len(c.big)-1], r)
				for i := len(c.big) - 2; i >= 0; i-- {
					VFMADD213PS(c.big[i], u, r)
				}
				VMULPS(b, b, b)
				v.xor(signBit(), b, b) // -b^2
				e := expOf(v, bounds, b)
				y := v.vec()
				VMOVUPS(expConst.one, y)
				VFNMADD231PS(e, r, y)
				v.selectGT(a, c.split, y, s, s)
				v.or(x, s, s)
				return s
			}
		})
}
