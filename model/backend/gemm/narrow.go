package gemm

import (
	"sync"

	"kata/model/backend/vmath"
)

// narrowMax is the widest output (columns, or rows after transposing) that
// goes to the dot-product path instead of the blocked product: the register
// tile would be mostly padding there, and packing the wide operand (a
// transpose for attention's probs x V with narrow heads) costs more than the
// arithmetic.
const narrowMax = 8

// narrowMinK is the shortest contraction worth the dot-product kernel.
const narrowMinK = 16

// multiplyNarrow computes C = A·B as rows of dot products when n is at most
// narrowMax and A's rows are contiguous (or, with the roles transposed, m is at
// most narrowMax and B's columns are); it reports false, doing nothing, for
// other products.
func multiplyNarrow(m, n, k int, a, b, c Matrix, workers int) bool {
	if !vmath.HasSIMD() || k < narrowMinK {
		return false
	}
	switch {
	case n <= narrowMax && a.ColStride == 1:
	case m <= narrowMax && b.RowStride == 1:
		m, n, a, b, c = n, m, b.T(), a.T(), c.T()
	case m <= narrowMax && b.ColStride == 1:
		accumulateNarrow(m, n, k, a, b, c, workers)
		return true
	case n <= narrowMax && a.RowStride == 1:
		accumulateNarrow(n, m, k, b.T(), a.T(), c.T(), workers)
		return true
	default:
		return false
	}
	// The n columns of B as contiguous float32 rows of length k (B^T), in
	// place when they already are.
	bt, ldb, off := b.Data, b.ColStride, b.Offset
	switch {
	case b.Format != Float32:
		bt, ldb, off = make([]float32, n*k), k, 0
		for j := range n {
			b.line(bt[j*k:(j+1)*k], b.at(0, j), b.RowStride)
		}
	case b.RowStride != 1 || ldb < k:
		bt, ldb, off = make([]float32, n*k), k, 0
		for p := range k {
			for j := range n {
				bt[j*k+p] = b.Data[b.at(p, j)]
			}
		}
	}
	bt = bt[off : off+(n-1)*ldb+k]
	rows := func(lo, hi int) {
		var out [narrowMax]float32
		var wide []float32 // a half-precision row of A, widened
		if a.Format != Float32 {
			wide = make([]float32, k)
		}
		for i := lo; i < hi; i++ {
			s := a.at(i, 0)
			row := wide
			if wide != nil {
				a.line(wide, s, 1)
			} else {
				row = a.Data[s : s+k]
			}
			vmath.Dots(out[:n], row, bt, ldb)
			d := c.at(i, 0)
			for j, v := range out[:n] {
				c.Data[d+j*c.ColStride] = v
			}
		}
	}
	inBands(m, 64, 1, workers, rows)
	return true
}

// accumulateNarrow computes C = A·B for m <= narrowMax and B with contiguous
// rows as C += A(:, p) B(p, :) over p: B is read once, row by row, and the m
// output rows stay in L1.
func accumulateNarrow(m, n, k int, a, b, c Matrix, workers int) {
	// Accumulate in C when its rows are contiguous, else in a scratch copy.
	y, ldy, off := c.Data, c.RowStride, c.Offset
	scratch := c.ColStride != 1 || ldy < n
	if scratch {
		y, ldy, off = make([]float32, m*n), n, 0
	}
	cols := func(lo, hi int) {
		var alpha [narrowMax]float32
		var wide []float32 // a half-precision row of B, widened
		if b.Format != Float32 {
			wide = make([]float32, hi-lo)
		}
		for i := range m {
			clear(y[off+i*ldy+lo : off+i*ldy+hi])
		}
		for p := range k {
			for i := range m {
				alpha[i] = a.value(i, p)
			}
			x := b.at(p, lo)
			row := wide
			if wide != nil {
				b.line(wide, x, 1)
			} else {
				row = b.Data[x : x+hi-lo]
			}
			vmath.AddScaled(y[off+lo:], ldy, alpha[:m], row)
		}
	}
	inBands(n, 256, 8, workers, cols)
	if scratch {
		for i := range m {
			for j, v := range y[i*n : i*n+n] {
				c.Data[c.at(i, j)] = v
			}
		}
	}
}

// inBands runs fn over [0, total) split into one band per worker, bands at
// least minBand long and aligned to align.
func inBands(total, minBand, align, workers int, fn func(lo, hi int)) {
	workers = max(1, min(workers, total/minBand))
	if workers == 1 {
		fn(0, total)
		return
	}
	per := ((total+workers-1)/workers + align - 1) / align * align
	var wg sync.WaitGroup
	for lo := 0; lo < total; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+per, total))
	}
	wg.Wait()
}
