package main

import (
	"strconv"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// The activations' kernels: the logistic function (SiLU's and quickGELU's
// sigmoid) and erf (exact GELU), both built on expOf.

// logistic generates logisticAVX2: with e = exp(-|x|) (in (0, 1], never
// overflowing) and q = 1/(1+e), sigmoid(x) is q for x >= 0 and e*q = 1-q for
// x < 0, taken from the sign bit of x with one blend. Each step is a
// relative-error operation (exp within 2 ulp, then an add, a division and a
// product, each rounded once), so small results keep their relative accuracy.
// -Inf gives e = 0 and 0, +Inf 1, -0 one half; NaN stays NaN through exp.
func logistic() {
	sign := signBit()
	unary("logisticAVX2", "logisticAVX2 sets dst[i] = 1/(1+exp(-src[i])) for i < n; n must be a multiple of 8 (needs AVX2 and FMA3).",
		func() func(x reg.VecVirtual) reg.VecVirtual {
			bounds := loadExpBounds()
			return func(x reg.VecVirtual) reg.VecVirtual {
				m := YMM()
				VORPS(sign, x, m) // -|x|
				e := expOf(bounds, m)
				q := YMM()
				VADDPS(expConst.one, e, m)
				VMOVUPS(expConst.one, q)
				VDIVPS(m, q, q)
				VMULPS(q, e, e)
				VBLENDVPS(x, e, q, q)
				return q
			}
		})
}

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

// erf generates erfAVX2 from both branches on every lane, blended by |x| >
// erfSplit (false for NaN, which the small branch propagates), and the sign of
// x put back (erf is odd; -0 stays -0).
func erf() {
	abs := vec("erfAbs", 0x7fffffff)
	split := f("erfSplit", erfSplit)
	hi := f("erfHi", 4)
	one := expConst.one
	small := make([]Mem, len(erfSmall))
	for i, c := range erfSmall {
		small[i] = f("erfS"+strconv.Itoa(i), c)
	}
	smallLo := f("erfSLo", erfSmallLo)
	big := make([]Mem, len(erfBig))
	for i, c := range erfBig {
		big[i] = f("erfB"+strconv.Itoa(i), c)
	}
	uScale, uShift := f("erfUScale", erfUScale), f("erfUShift", erfUShift)
	unary("erfAVX2", "erfAVX2 sets dst[i] = erf(src[i]) for i < n; n must be a multiple of 8 (needs AVX2 and FMA3).",
		func() func(x reg.VecVirtual) reg.VecVirtual {
			bounds := loadExpBounds()
			return func(x reg.VecVirtual) reg.VecVirtual {
				a := YMM()
				VANDPS(abs, x, a)
				VXORPS(a, x, x) // the sign bit alone
				// Small branch: a*P0hi + a*(P0lo + t*Q(t)), t = a^2.
				t, s := YMM(), YMM()
				VMULPS(a, a, t)
				VMOVUPS(small[len(small)-1], s)
				for i := len(small) - 2; i >= 1; i-- {
					VFMADD213PS(small[i], t, s)
				}
				VFMADD213PS(smallLo, t, s)
				VMULPS(a, s, s)
				VFMADD231PS(small[0], a, s)
				// Big branch: 1 - exp(-c^2)*R(u), c = min(a, 4).
				c, u, r := YMM(), YMM(), YMM()
				VMINPS(hi, a, c)
				VMOVUPS(uShift, u)
				VFMADD231PS(uScale, c, u)
				VMOVUPS(big[len(big)-1], r)
				for i := len(big) - 2; i >= 0; i-- {
					VFMADD213PS(big[i], u, r)
				}
				VMULPS(c, c, c)
				VXORPS(signBit(), c, c) // -c^2
				e := expOf(bounds, c)
				y := YMM()
				VMOVUPS(one, y)
				VFNMADD231PS(e, r, y)
				mask := YMM()
				VCMPPS(U8(0x1e), split, a, mask) // a > split (ordered, false for NaN)
				VBLENDVPS(mask, y, s, s)
				VORPS(x, s, s)
				return s
			}
		})
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
