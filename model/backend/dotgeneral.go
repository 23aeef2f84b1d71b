package backend

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"kata/model/backend/gemm"
	"kata/model/parallel"
)

// fastCalls and fallbacks count ops executed by Kata's kernels and ops handed to
// GoMLX's executors while the kernels are on (tests check which ran).
var fastCalls, fallbacks atomic.Int64

// dotGeneralMirror has the layout of simplego's dotGeneralNodeData (v0.26.0).
type dotGeneralMirror struct {
	lhsContractingAxes, lhsBatchAxes                       []int
	rhsContractingAxes, rhsBatchAxes                       []int
	batchSize, lhsCrossSize, rhsCrossSize, contractingSize int
	lhsBlockedShape, rhsBlockedShape, outputBlockedShape   shapes.Shape
}

// nodeData returns node.data as *T after checking that the pointed-to struct has
// T's layout; nil if not.
func nodeData[T any](n *nodeMirror) *T {
	v := reflect.ValueOf(n.data)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	if checkCached(v.Elem().Type(), reflect.TypeFor[T]()) != nil {
		return nil
	}
	return (*T)(v.UnsafePointer())
}

// execDotGeneral computes simplego's normalised DotGeneral node (output
// [batch, lhsCross, rhsCross]) with the GEMM kernels for float32 outputs of
// float32, float16 or bfloat16 operands (half-precision weights read
// directly, see half.go, are widened by the GEMM's packing); anything else
// goes to GoMLX's executor.
func execDotGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	// Without a SIMD micro-kernel GoMLX's own blocked DotGeneral is as fast
	// (convolutions still gain from im2col, see convgeneral.go).
	if !kernelsOn.Load() || gemm.Kernel() == "go" {
		return stockWithHalf(stockDotGeneral, backend, node, inputs, owned)
	}
	n := mirror(node)
	p := nodeData[dotGeneralMirror](n)
	lhsShape, lhs, ok1 := operandOf(backend, inputs[0])
	rhsShape, rhs, ok2 := operandOf(backend, inputs[1])
	if p == nil || !ok1 || !ok2 || n.shape.DType != dtypes.Float32 {
		fallbacks.Add(1)
		return stockWithHalf(stockDotGeneral, backend, node, inputs, owned)
	}
	out, outFlat, err := newOutput(backend, n.shape)
	if err != nil {
		return nil, err
	}
	if err := dotGeneral(lhs, lhsShape.Dimensions, p.lhsContractingAxes, p.lhsBatchAxes,
		rhs, rhsShape.Dimensions, p.rhsContractingAxes, p.rhsBatchAxes, outFlat); err != nil {
		backend.BufferFinalize(out)
		return nil, fmt.Errorf("DotGeneral %s x %s: %w", lhsShape, rhsShape, err)
	}
	fastCalls.Add(1)
	return out, nil
}

// operandView describes one DotGeneral operand as strided matrices, one per batch.
type operandView struct {
	data                 operand
	batchOffsets         []int
	crossSize, contract  int
	crossStride, kStride int
}

// viewOperand maps an operand to [batch][cross][contracting] strided views,
// transposing it into that order first if the axes cannot be merged in place
// (widening a half-precision operand then: the GEMM reads the others as
// stored).
func viewOperand(data operand, dims, contracting, batch []int) (operandView, error) {
	for _, a := range slices.Concat(contracting, batch) {
		if a < 0 || a >= len(dims) {
			return operandView{}, fmt.Errorf("axis %d out of range for rank %d", a, len(dims))
		}
	}
	cross := crossAxes(len(dims), contracting, batch)
	strides := rowMajorStrides(dims)
	crossStride, ok1 := mergeAxes(dims, strides, cross)
	kStride, ok2 := mergeAxes(dims, strides, contracting)
	if !ok1 || !ok2 {
		perm := slices.Concat(batch, cross, contracting)
		wide, release := data.widened()
		data = operand{f32: transposeF32(wide, dims, perm)}
		release()
		newDims := make([]int, len(dims))
		for i, a := range perm {
			newDims[i] = dims[a]
		}
		nb, nc := len(batch), len(cross)
		return viewOperand(data, newDims, seq(nb+nc, len(dims)), seq(0, nb))
	}
	v := operandView{data: data, crossSize: 1, contract: 1, crossStride: crossStride, kStride: kStride}
	for _, a := range cross {
		v.crossSize *= dims[a]
	}
	for _, a := range contracting {
		v.contract *= dims[a]
	}
	v.batchOffsets = []int{0}
	for _, a := range batch {
		next := make([]int, 0, len(v.batchOffsets)*dims[a])
		for _, off := range v.batchOffsets {
			for i := range dims[a] {
				next = append(next, off+i*strides[a])
			}
		}
		v.batchOffsets = next
	}
	return v, nil
}

// dotGeneral writes out[b][i][j] = sum_k lhs[b][i][k] * rhs[b][k][j].
func dotGeneral(lhs operand, lhsDims, lc, lb []int, rhs operand, rhsDims, rc, rb []int, out []float32) error {
	l, err := viewOperand(lhs, lhsDims, lc, lb)
	if err != nil {
		return err
	}
	r, err := viewOperand(rhs, rhsDims, rc, rb)
	if err != nil {
		return err
	}
	batch, m, n, k := len(l.batchOffsets), l.crossSize, r.crossSize, l.contract
	if len(r.batchOffsets) != batch || r.contract != k || len(out) != batch*m*n {
		return fmt.Errorf("inconsistent sizes: batch %d/%d, contracting %d/%d, output %d",
			batch, len(r.batchOffsets), k, r.contract, len(out))
	}
	one := func(b int, mul func(m, n, k int, a, bm, c gemm.Matrix) error) error {
		a := l.data.matrix(l.batchOffsets[b], l.crossStride, l.kStride)
		bm := r.data.matrix(r.batchOffsets[b], r.kStride, r.crossStride)
		return mul(m, n, k, a, bm, gemm.RowMajor(out, b*m*n, n))
	}
	workers := runtime.GOMAXPROCS(0)
	if batch < workers || (batch < 4*workers && m*n*k >= 1<<21) {
		for b := range batch {
			if err := one(b, gemm.Multiply); err != nil {
				return err
			}
		}
		return nil
	}
	return parallel.For(batch, func(b int) error { return one(b, gemm.MultiplySerial) })
}

// transposeF32 returns data (row-major dims) with its axes permuted: output axis i
// is input axis perm[i].
func transposeF32(data []float32, dims, perm []int) []float32 {
	out := make([]float32, len(data))
	transposeInto(out, data, dims, perm)
	return out
}

// transposeTiles sets dst[i*dq+j] = src[i+j*sj] for i < ni, j < nj, in 32x32 tiles.
func transposeTiles(dst []float32, dq int, src []float32, sj, ni, nj int) {
	const tile = 32
	for i0 := 0; i0 < ni; i0 += tile {
		i1 := min(i0+tile, ni)
		for j0 := 0; j0 < nj; j0 += tile {
			j1 := min(j0+tile, nj)
			for i := i0; i < i1; i++ {
				row := dst[i*dq+j0 : i*dq+j1]
				s := i + j0*sj
				for j := range row {
					row[j] = src[s+j*sj]
				}
			}
		}
	}
}

// transposeInto writes data (row-major dims) with its axes permuted into out.
// Adjacent axes that stay adjacent are merged, so that the innermost loop is as
// long as possible.
func transposeInto(out, data []float32, dims, perm []int) {
	if len(data) == 0 {
		return
	}
	// Output-space strides of the source, then merge axes that move together.
	inStrides := rowMajorStrides(dims)
	outDims := make([]int, len(perm))
	src := make([]int, len(perm))
	for i, a := range perm {
		outDims[i] = dims[a]
		src[i] = inStrides[a]
	}
	cDims, cStrides := collapse(outDims, src, rowMajorStrides(outDims))
	last := len(cDims) - 1
	inner := cDims[last]
	step := cStrides[0][last]
	if step != 1 {
		// The source-contiguous axis q is an outer output axis: transpose (q, inner)
		// planes in cache-sized tiles instead of gathering with a long stride.
		for q := range last {
			if cStrides[0][q] != 1 || cDims[q] < 4 {
				continue
			}
			var dims []int
			strides := [][]int{nil, nil}
			for ax := range last {
				if ax != q {
					dims = append(dims, cDims[ax])
					strides[0] = append(strides[0], cStrides[0][ax])
					strides[1] = append(strides[1], cStrides[1][ax])
				}
			}
			dims = append(dims, 1)
			strides[0], strides[1] = append(strides[0], 0), append(strides[1], 0)
			nq, dq := cDims[q], cStrides[1][q]
			parRows(dims, strides, func(_ int, offs []int) {
				transposeTiles(out[offs[1]:], dq, data[offs[0]:], step, nq, inner)
			})
			return
		}
	}
	parRows(cDims, cStrides, func(o int, offs []int) {
		row := out[o : o+inner]
		s := offs[0]
		if step == 1 && inner >= 16 {
			copy(row, data[s:s+inner])
			return
		}
		for j := range row {
			row[j] = data[s+j*step]
		}
	})
}
