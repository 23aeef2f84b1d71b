package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"kata/model/safetensors"
)

// widenRef widens one value of format f with model/safetensors' scalar
// conversions (the reference of the widen-first path).
func widenRef(f Format, h uint16) float32 {
	if f == Float16 {
		return safetensors.Float16ToFloat32(h)
	}
	return safetensors.BFloat16ToFloat32(h)
}

// widenings lists the widening loops to check: the portable Go loops, and the
// assembly ones where this CPU runs them.
func widenings() []bool {
	if hasWidenAsm() {
		return []bool{false, true}
	}
	return []bool{false}
}

// sameBits reports whether a and b are the same float32, or both NaN
// (VCVTPH2PS quiets a signalling NaN, the table keeps it signalling).
func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// TestWidenSteps widens every 16-bit pattern through runs of every width up
// to 35 (the 8-, 4- and 1-value paths of the assembly), with strides on both
// sides, and compares each value with the scalar conversion.
func TestWidenSteps(t *testing.T) {
	src := make([]uint16, 1<<16+64)
	for i := range src {
		src[i] = uint16(i * 40503) // every pattern (40503 is odd), then a wrap
	}
	defer func(v bool) { widenAsm = v }(widenAsm)
	for _, asm := range widenings() {
		widenAsm = asm
		for _, f := range []Format{Float16, BFloat16} {
			for _, c := range []struct{ width, srcPad, dstPad int }{
				{1, 0, 0}, {3, 2, 1}, {4, 0, 4}, {7, 5, 0}, {8, 0, 0}, {12, 3, 2}, {16, 0, 0}, {31, 1, 3}, {32, 0, 0}, {35, 9, 0},
			} {
				t.Run(fmt.Sprintf("asm=%v/%s/width%d", asm, f, c.width), func(t *testing.T) {
					ss, ds := c.width+c.srcPad, c.width+c.dstPad
					steps := (len(src) - 1 - c.width) / ss
					dst := make([]float32, steps*ds)
					const guard = float32(-12345)
					for i := range dst {
						dst[i] = guard
					}
					widenSteps(dst, ds, src, 1, ss, c.width, steps, f)
					for p := range steps {
						for j := range ds {
							got := dst[p*ds+j]
							if j >= c.width {
								if got != guard {
									t.Fatalf("step %d: wrote past the run at %d", p, j)
								}
								continue
							}
							h := src[1+p*ss+j]
							if want := widenRef(f, h); !sameBits(got, want) {
								t.Fatalf("step %d, %#04x -> %#08x, want %#08x", p, h, math.Float32bits(got), math.Float32bits(want))
							}
						}
					}
				})
			}
		}
	}
}

// halfView lays out an r x c matrix of random half-precision values (with
// zeros and subnormals among them) like view, and the same view of the
// widened values.
func halfView(rng *rand.Rand, f Format, r, c int, colMajor bool) (half, wide Matrix) {
	m := view(rng, r, c, colMajor)
	bits := make([]uint16, len(m.Data))
	for i, v := range m.Data {
		switch rng.IntN(50) {
		case 0:
			bits[i] = uint16(rng.IntN(0x400)) | uint16(rng.IntN(2))<<15 // float16 zero or subnormal
			if f == BFloat16 {
				bits[i] = uint16(rng.IntN(0x80)) | uint16(rng.IntN(2))<<15
			}
		default:
			if f == Float16 {
				bits[i] = safetensors.Float32ToFloat16(v)
			} else {
				bits[i] = safetensors.Float32ToBFloat16(v)
			}
		}
		m.Data[i] = widenRef(f, bits[i])
	}
	return HalfMatrix(bits, f, m.Offset, m.RowStride, m.ColStride), m
}

// strided re-lays an r x c view with no unit stride (every other element of a
// wider column-major matrix).
func strided(m Matrix, r, c int) Matrix {
	out := Matrix{Format: m.Format, Offset: 1, RowStride: 2, ColStride: 2*r + 3}
	size := 2 + max(r-1, 0)*out.RowStride + max(c-1, 0)*out.ColStride
	if m.Format == Float32 {
		out.Data = make([]float32, size)
	} else {
		out.Half = make([]uint16, size)
	}
	for i := range r {
		for j := range c {
			if m.Format == Float32 {
				out.Data[out.at(i, j)] = m.Data[m.at(i, j)]
			} else {
				out.Half[out.at(i, j)] = m.Half[m.at(i, j)]
			}
		}
	}
	return out
}

// TestMultiplyHalf checks that products with a float16 or bfloat16 A, B or
// both are bit for bit those of the widened float32 values, with every
// kernel, both widening loops, transposed and strided operands and shapes
// that take the blocked, narrow (dot product and accumulation) and swapped
// (C^T) paths.
func TestMultiplyHalf(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	sizes := [][3]int{{1, 1, 1}, {5, 7, 3}, {13, 33, 17}, {37, 70, 300}, {9, 520, 40}, {64, 1030, 33},
		{100, 9, 600}, {1000, 8, 70}, {4, 300, 77}, {2, 2, 16}, {7, 130, 300}, {100, 70, 4}, {3, 2, 0},
		{37, 1100, 300}, {1100, 37, 300}}
	defer func(v bool) { widenAsm = v }(widenAsm)
	for _, name := range Available() {
		prev, err := Use(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, asm := range widenings() {
			widenAsm = asm
			for _, f := range []Format{Float16, BFloat16} {
				for _, sz := range sizes {
					m, n, k := sz[0], sz[1], sz[2]
					for layout := range 10 {
						aT, bT, cT := layout&1 != 0, layout&2 != 0, layout&4 != 0
						ah, aw := halfView(rng, f, m, k, aT)
						bh, bw := halfView(rng, f, k, n, bT)
						if layout >= 8 { // A (layout 8) or B (9) with no unit stride.
							if layout == 8 {
								ah, aw = strided(ah, m, k), strided(aw, m, k)
							} else {
								bh, bw = strided(bh, k, n), strided(bw, k, n)
							}
						}
						for _, which := range []string{"A", "B", "AB"} {
							a, b := aw, bw
							if which != "B" {
								a = ah
							}
							if which != "A" {
								b = bh
							}
							t.Run(fmt.Sprintf("%s/asm=%v/%s/%dx%dx%d/layout%d/%s", name, asm, f, m, n, k, layout, which), func(t *testing.T) {
								want, got := view(rng, m, n, cT), view(rng, m, n, cT)
								if err := Multiply(m, n, k, aw, bw, want); err != nil {
									t.Fatal(err)
								}
								if err := Multiply(m, n, k, a, b, got); err != nil {
									t.Fatal(err)
								}
								for i := range m {
									for j := range n {
										if g, w := got.Data[got.at(i, j)], want.Data[want.at(i, j)]; math.Float32bits(g) != math.Float32bits(w) {
											t.Fatalf("C[%d][%d] = %g, widen-first %g", i, j, g, w)
										}
									}
								}
							})
						}
					}
				}
			}
		}
		if _, err := Use(prev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMultiplyHalfRejectsBadViews(t *testing.T) {
	a := HalfMatrix(make([]uint16, 6), Float16, 0, 3, 1)
	b := RowMajor(make([]float32, 6), 0, 2)
	c := RowMajor(make([]float32, 4), 0, 2)
	if err := Multiply(3, 2, 3, a, b, c); err == nil {
		t.Error("short half A accepted")
	}
	a.Format = Format(9)
	if err := Multiply(2, 2, 3, a, b, c); err == nil {
		t.Error("unknown format accepted")
	}
	if err := Multiply(2, 2, 3, HalfMatrix(make([]uint16, 6), BFloat16, 0, 3, 1), b, HalfMatrix(make([]uint16, 4), Float16, 0, 2, 1)); err == nil {
		t.Error("half C accepted")
	}
}
