package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// reference computes A·B in float64 and, per element, the sum of |a*b| (the scale
// of the rounding error).
func reference(m, n, k int, a, b Matrix) (want, scale []float64) {
	want, scale = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				v := float64(a.Data[a.at(i, p)]) * float64(b.Data[b.at(p, j)])
				s += v
				abs += math.Abs(v)
			}
			want[i*n+j], scale[i*n+j] = s, abs
		}
	}
	return
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
	return s
}

// view lays out an r x c matrix in a fresh slice (with a leading offset and padded
// rows) either row-major or column-major.
func view(rng *rand.Rand, r, c int, colMajor bool) Matrix {
	const off, pad = 3, 5
	if colMajor {
		return Matrix{Data: randSlice(rng, off+c*(r+pad)), Offset: off, RowStride: 1, ColStride: r + pad}
	}
	return Matrix{Data: randSlice(rng, off+r*(c+pad)), Offset: off, RowStride: c + pad, ColStride: 1}
}

func TestMultiply(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := [][3]int{{1, 1, 1}, {5, 7, 3}, {12, 32, 1}, {13, 33, 17}, {6, 16, 256}, {37, 70, 300},
		{100, 9, 600}, {9, 520, 40}, {64, 1030, 33}, {3, 2, 0}, {1000, 8, 70}, {200, 40, 64},
		{1024, 4, 1024}, {4, 300, 77}, {300, 3, 20}, {2, 2, 16}, {7, 130, 300}, // narrow: dot products, accumulation
		{100, 70, 4}, {33, 257, 8}, // short contraction (blocked)
		{37, 1100, 300}, {1100, 37, 300}} // A packed once for several B blocks, and not
	for _, name := range Available() {
		prev, err := Use(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, sz := range sizes {
			m, n, k := sz[0], sz[1], sz[2]
			for layout := range 12 {
				aT, bT, cT := layout&1 != 0, layout&2 != 0, layout&4 != 0
				a, b := view(rng, m, k, aT), view(rng, k, n, bT)
				c := view(rng, m, n, cT)
				if layout >= 8 { // C with no unit stride: every other element of a wider matrix.
					c = Matrix{Data: randSlice(rng, 2*m*n+1), Offset: 1, RowStride: 2 * n, ColStride: 2}
				}
				for _, serial := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%dx%dx%d/layout%d/serial=%v", name, m, n, k, layout, serial), func(t *testing.T) {
						mul := Multiply
						if serial {
							mul = MultiplySerial
						}
						if err := mul(m, n, k, a, b, c); err != nil {
							t.Fatal(err)
						}
						want, scale := reference(m, n, k, a, b)
						for i := range m {
							for j := range n {
								got := float64(c.Data[c.at(i, j)])
								if d := math.Abs(got - want[i*n+j]); d > 1e-5*(scale[i*n+j]+1e-30) {
									t.Fatalf("C[%d][%d] = %g, want %g", i, j, got, want[i*n+j])
								}
							}
						}
					})
				}
			}
		}
		if _, err := Use(prev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMultiplyRejectsBadViews(t *testing.T) {
	a := RowMajor(make([]float32, 6), 0, 3)
	b := RowMajor(make([]float32, 6), 0, 2)
	if err := Multiply(2, 2, 3, a, b, RowMajor(make([]float32, 3), 0, 2)); err == nil {
		t.Error("short C accepted")
	}
	if err := Multiply(3, 2, 3, a, b, RowMajor(make([]float32, 6), 0, 2)); err == nil {
		t.Error("short A accepted")
	}
}

func TestPeakGFLOPS(t *testing.T) {
	for _, name := range Available() {
		p := PeakGFLOPS(name, 20*time.Millisecond)
		if name == "go" {
			if p != 0 {
				t.Errorf("PeakGFLOPS(go) = %g, want 0", p)
			}
			continue
		}
		// Any CPU with these instructions runs at least 1 GFLOP/s of FMAs.
		if p < 1 {
			t.Errorf("PeakGFLOPS(%s) = %g", name, p)
		}
		t.Logf("%s: %.0f GFLOP/s", name, p)
	}
}

// TestMultiplyWorkersAgree checks that splitting the blocked product over any
// number of workers (more than this machine's cores included) gives exactly
// the one-worker result, for shapes with several B blocks and with fewer row
// panels than workers.
func TestMultiplyWorkersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, name := range Available() {
		prev, _ := Use(name)
		for _, sz := range [][3]int{{300, 1100, 600}, {20, 2000, 300}, {1500, 30, 520}, {13, 40, 9}} {
			m, n, k := sz[0], sz[1], sz[2]
			for layout := range 4 {
				a, b := view(rng, m, k, layout&1 != 0), view(rng, k, n, layout&2 != 0)
				want := view(rng, m, n, false)
				if err := multiply(m, n, k, a, b, want, 1); err != nil {
					t.Fatal(err)
				}
				for _, workers := range []int{2, 3, 7, 16} {
					got := view(rng, m, n, false)
					if err := multiply(m, n, k, a, b, got, workers); err != nil {
						t.Fatal(err)
					}
					for i := range m {
						for j := range n {
							if g, w := got.Data[got.at(i, j)], want.Data[want.at(i, j)]; g != w {
								t.Fatalf("%s %dx%dx%d layout %d, %d workers: C[%d][%d] = %g, one worker %g", name, m, n, k, layout, workers, i, j, g, w)
							}
						}
					}
				}
			}
		}
		Use(prev)
	}
}

// TestPackAllBitIdentical checks that packing all of a half-precision A's
// panels once per contraction slice (n above one column block) gives the
// products of packing them per column block, bit for bit (a float32 A is
// packed per block either way).
func TestPackAllBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sz := range [][3]int{{37, 1100, 300}, {12, 513, 256}, {100, 2000, 600}} {
		m, n, k := sz[0], sz[1], sz[2]
		b := view(rng, k, n, false)
		half, _ := halfView(rng, Float16, m, k, false)
		for _, a := range []Matrix{view(rng, m, k, false), view(rng, m, k, true), half} {
			run := func(limit int) []float32 {
				defer func(v int) { packAllMax = v }(packAllMax)
				packAllMax = limit
				c := Matrix{Data: make([]float32, m*n), RowStride: n, ColStride: 1}
				if err := MultiplySerial(m, n, k, a, b, c); err != nil {
					t.Fatal(err)
				}
				return c.Data
			}
			once, per := run(1<<30), run(0)
			for i := range once {
				if math.Float32bits(once[i]) != math.Float32bits(per[i]) {
					t.Fatalf("%dx%dx%d %s A: element %d: %v packed once, %v per block", m, n, k, a.Format, i, once[i], per[i])
				}
			}
		}
	}
}
