package safetensors

import "math"

// Float16ToFloat32 converts IEEE 754 half precision bits to float32 exactly,
// including subnormals, infinities and NaN payloads.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		// Zero or subnormal: mant * 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// Float32ToFloat16 converts f to IEEE 754 half precision bits, rounding to
// nearest even; values beyond the half range become infinities and NaN stays NaN.
func Float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 | uint16(mant>>13)
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign // below half of the smallest subnormal
		}
		mant |= 0x800000
		shift := uint(14 - e)
		r := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++ // may carry into the smallest normal, which is the right encoding
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // a carry out of the mantissa bumps the exponent, up to infinity
	}
	return sign | uint16(r)
}

// BFloat16ToFloat32 converts bfloat16 bits (the top half of a float32) to float32.
func BFloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBFloat16 converts f to bfloat16 bits, rounding to nearest even and
// keeping NaN a NaN.
func Float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// Float8E5M2ToFloat32 converts an F8_E5M2 byte (the top byte of a half) to float32.
func Float8E5M2ToFloat32(x uint8) float32 { return Float16ToFloat32(uint16(x) << 8) }

// Float8E4M3ToFloat32 converts an F8_E4M3 (the "fn" variant: no infinities,
// S.1111.111 is NaN, exponent bias 7) byte to float32.
func Float8E4M3ToFloat32(x uint8) float32 {
	sign := float32(1)
	if x&0x80 != 0 {
		sign = -1
	}
	exp := int(x>>3) & 0xf
	mant := float32(x & 7)
	switch {
	case exp == 0xf && x&7 == 7:
		return float32(math.NaN())
	case exp == 0:
		return sign * mant * (1.0 / 512)
	default:
		return sign * (1 + mant/8) * float32(math.Ldexp(1, exp-7))
	}
}
