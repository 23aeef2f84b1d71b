package vmath

import "fmt"

// Dots sets out[j] = sum over i < len(a) of a[i]*b[j*ldb+i], for j < len(out):
// the products of one row with len(out) rows of b spaced ldb apart. It reads a
// once per four outputs, which makes a narrow matrix product (few output
// columns) bound by the speed of reading its wide operand. Sums are taken in a
// different order than a plain loop. It panics if b is too short.
func Dots(out, a, b []float32, ldb int) {
	k := len(a)
	if len(out) == 0 {
		return
	}
	if need := (len(out)-1)*ldb + k; ldb < k || len(b) < need {
		panic(fmt.Sprintf("vmath.Dots: b has %d floats, need %d (ldb %d < row %d?)", len(b), need, ldb, k))
	}
	j := 0
	if kv := k &^ 15; hasSIMD && kv > 0 {
		for ; j+4 <= len(out); j += 4 {
			dots4SIMD(kv, a, b[j*ldb:], ldb, out[j:j+4])
			for q := range 4 {
				row := b[(j+q)*ldb : (j+q)*ldb+k]
				s := out[j+q]
				for i := kv; i < k; i++ {
					s += a[i] * row[i]
				}
				out[j+q] = s
			}
		}
	}
	for ; j < len(out); j++ {
		row := b[j*ldb : j*ldb+k]
		var s float32
		for i, v := range a {
			s += v * row[i]
		}
		out[j] = s
	}
}

// AddScaled adds alpha[j]*x[i] to y[j*ldy+i] for j < len(alpha), i < len(x):
// one step of a narrow product accumulated row by row (len(alpha) output rows
// of length len(x) spaced ldy apart), reading x once per four rows. It panics
// if y is too short.
func AddScaled(y []float32, ldy int, alpha, x []float32) {
	n := len(x)
	if len(alpha) == 0 {
		return
	}
	if need := (len(alpha)-1)*ldy + n; ldy < n || len(y) < need {
		panic(fmt.Sprintf("vmath.AddScaled: y has %d floats, need %d (ldy %d < row %d?)", len(y), need, ldy, n))
	}
	j := 0
	if nv := n &^ 7; hasSIMD && nv > 0 {
		for ; j+4 <= len(alpha); j += 4 {
			axpy4SIMD(nv, x, alpha[j:j+4], y[j*ldy:], ldy)
			for q, s := range alpha[j : j+4] {
				row := y[(j+q)*ldy : (j+q)*ldy+n]
				for i := nv; i < n; i++ {
					row[i] += s * x[i]
				}
			}
		}
	}
	for ; j < len(alpha); j++ {
		row := y[j*ldy : j*ldy+n]
		s := alpha[j]
		for i, v := range x {
			row[i] += s * v
		}
	}
}
