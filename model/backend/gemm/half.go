package gemm

import (
	"fmt"
	"math"
	"unsafe"

	"kata/model/safetensors"
)

// Format says how a Matrix holds its elements.
type Format uint8

const (
	// Float32 elements are in Matrix.Data (the zero value).
	Float32 Format = iota
	// Float16 elements are IEEE half-precision bits in Matrix.Half.
	Float16
	// BFloat16 elements are bfloat16 bits (the upper half of a float32) in
	// Matrix.Half.
	BFloat16
)

// String names the format.
func (f Format) String() string {
	switch f {
	case Float32:
		return "float32"
	case Float16:
		return "float16"
	case BFloat16:
		return "bfloat16"
	}
	return fmt.Sprintf("Format(%d)", uint8(f))
}

// HalfMatrix is the strided view of half-precision bits (format Float16 or
// BFloat16): element (i, j) is data[offset + i*rowStride + j*colStride]. The
// products widen its elements to float32 exactly while they pack them, so the
// result is bit for bit that of the same view of the widened values.
func HalfMatrix(data []uint16, format Format, offset, rowStride, colStride int) Matrix {
	return Matrix{Half: data, Format: format, Offset: offset, RowStride: rowStride, ColStride: colStride}
}

// elements returns the length of the slice that holds m's elements.
func (m Matrix) elements() (int, error) {
	switch m.Format {
	case Float32:
		return len(m.Data), nil
	case Float16, BFloat16:
		return len(m.Half), nil
	}
	return 0, fmt.Errorf("gemm: unknown %s", m.Format)
}

// value returns element (i, j) as float32.
func (m Matrix) value(i, j int) float32 {
	switch m.Format {
	case Float16:
		return safetensors.Float16ToFloat32(m.Half[m.at(i, j)])
	case BFloat16:
		return math.Float32frombits(uint32(m.Half[m.at(i, j)]) << 16)
	}
	return m.Data[m.at(i, j)]
}

// line writes the len(dst) elements of m at off, off+stride, ... into dst as
// float32 (a row or column of the view).
func (m Matrix) line(dst []float32, off, stride int) {
	if m.Format == Float32 {
		for i := range dst {
			dst[i] = m.Data[off+i*stride]
		}
		return
	}
	if stride == 1 {
		widenSteps(dst, 0, m.Half, off, 0, len(dst), 1, m.Format)
		return
	}
	widenSteps(dst, 1, m.Half, off, stride, 1, len(dst), m.Format)
}

// widenAsm says whether the assembly widening loops run (amd64 with F16C
// and AVX2); tests switch it off to check the portable loops.
var widenAsm = hasWidenAsm()

// widenSteps sets dst[p*dstStride + j] to src[off + p*srcStride + j] widened
// from format f, for p < steps and j < width: the packing of a half-precision
// operand whose packed direction is contiguous (one contiguous run with
// steps = 1). It panics if an index falls outside dst or src.
func widenSteps(dst []float32, dstStride int, src []uint16, off, srcStride, width, steps int, f Format) {
	if width <= 0 || steps <= 0 {
		return
	}
	last := off + (steps-1)*srcStride
	_, _ = src[min(off, last)], src[max(off, last)+width-1]
	_ = dst[(steps-1)*dstStride+width-1]
	if widenAsm {
		d, s := unsafe.SliceData(dst), &src[off]
		if f == Float16 {
			widenF16(d, dstStride, s, srcStride, width, steps)
		} else {
			widenBF16(d, dstStride, s, srcStride, width, steps)
		}
		return
	}
	for p := range steps {
		d := dst[p*dstStride : p*dstStride+width]
		s := src[off+p*srcStride : off+p*srcStride+width]
		if f == Float16 {
			safetensors.HalfToFloat32(d, s)
			continue
		}
		for j, h := range s {
			d[j] = math.Float32frombits(uint32(h) << 16)
		}
	}
}

// packAHalf is packA for a half-precision A; line is scratch of at least kc
// values.
func packAHalf(dst, line []float32, a Matrix, i0, p0, rows, kc, mr int) {
	dst = dst[:kc*mr]
	if rows < mr {
		clear(dst)
	}
	if a.RowStride == 1 {
		widenSteps(dst, mr, a.Half, a.at(i0, p0), a.ColStride, rows, kc, a.Format)
		return
	}
	// Row by row: each row widened (vectorised when contiguous) into line,
	// then spread over the panel.
	row := line[:kc]
	for i := range rows {
		a.line(row, a.at(i0+i, p0), a.ColStride)
		d := dst[i:]
		for p, v := range row {
			d[p*mr] = v
		}
	}
}

// packBHalf is packB for a half-precision B; line is scratch of at least kc
// values.
func packBHalf(dst, line []float32, b Matrix, p0, j0, kc, nc, nr int) {
	col := line[:kc]
	for jr := 0; jr < nc; jr += nr {
		cols := min(nr, nc-jr)
		panel := dst[(jr/nr)*nr*kc : (jr/nr+1)*nr*kc]
		if cols < nr {
			clear(panel)
		}
		if b.ColStride == 1 {
			widenSteps(panel, nr, b.Half, b.at(p0, j0+jr), b.RowStride, cols, kc, b.Format)
			continue
		}
		// Column by column (a [out, in] weight read as B = W^T): each column
		// widened into line, then spread over the panel.
		for j := range cols {
			b.line(col, b.at(p0, j0+jr+j), b.RowStride)
			d := panel[j:]
			for p, v := range col {
				d[p*nr] = v
			}
		}
	}
}
