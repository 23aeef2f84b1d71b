package backend

import (
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"kata/model/backend/gemm"
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
// [batch, lhsCross, rhsCross]) with the GEMM kernels for float32; anything else
// goes to GoMLX's executor.
func execDotGeneral(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	if !kernelsOn.Load() {
		return stockDotGeneral(backend, node, inputs, owned)
	}
	n := mirror(node)
	p := nodeData[dotGeneralMirror](n)
	lhsShape, lhs, ok1 := float32Flat(backend, inputs[0])
	rhsShape, rhs, ok2 := float32Flat(backend, inputs[1])
	if p == nil || !ok1 || !ok2 || n.shape.DType != dtypes.Float32 {
		fallbacks.Add(1)
		return stockDotGeneral(backend, node, inputs, owned)
	}
	out, outFlat, err := newOutput(backend, n.shape)
	if err != nil {
		return nil, err
	}
	if err := dotGeneralF32(lhs, lhsShape.Dimensions, p.lhsContractingAxes, p.lhsBatchAxes,
		rhs, rhsShape.Dimensions, p.rhsContractingAxes, p.rhsBatchAxes, outFlat); err != nil {
		backend.BufferFinalize(out)
		return nil, fmt.Errorf("DotGeneral %s x %s: %w", lhsShape, rhsShape, err)
	}
	fastCalls.Add(1)
	return out, nil
}

// operandView describes one DotGeneral operand as strided matrices, one per batch.
type operandView struct {
	data                 []float32
	batchOffsets         []int
	crossSize, contract  int
	crossStride, kStride int
}

// viewOperand maps an operand to [batch][cross][contracting] strided views,
// transposing it into that order first if the axes cannot be merged in place.
func viewOperand(data []float32, dims, contracting, batch []int) (operandView, error) {
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
		data = transposeF32(data, dims, perm)
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

// dotGeneralF32 writes out[b][i][j] = sum_k lhs[b][i][k] * rhs[b][k][j].
func dotGeneralF32(lhs []float32, lhsDims, lc, lb []int, rhs []float32, rhsDims, rc, rb []int, out []float32) error {
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
		a := gemm.Matrix{Data: l.data, Offset: l.batchOffsets[b], RowStride: l.crossStride, ColStride: l.kStride}
		bm := gemm.Matrix{Data: r.data, Offset: r.batchOffsets[b], RowStride: r.kStride, ColStride: r.crossStride}
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
	return parallelFor(batch, func(b int) error { return one(b, gemm.MultiplySerial) })
}

// parallelFor runs fn(0..n-1) on all cores and returns the first error.
func parallelFor(n int, fn func(i int) error) error {
	workers := min(n, runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || errs[w] != nil {
					return
				}
				errs[w] = fn(i)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// transposeF32 returns data (row-major dims) with its axes permuted: output axis i
// is input axis perm[i].
func transposeF32(data []float32, dims, perm []int) []float32 {
	out := make([]float32, len(data))
	if len(data) == 0 {
		return out
	}
	inStrides := rowMajorStrides(dims)
	rank := len(perm)
	outDims := make([]int, rank)
	srcStrides := make([]int, rank)
	for i, a := range perm {
		outDims[i] = dims[a]
		srcStrides[i] = inStrides[a]
	}
	if rank == 0 {
		copy(out, data)
		return out
	}
	idx := make([]int, rank)
	last := rank - 1
	inner, innerStride := outDims[last], srcStrides[last]
	src := 0
	for o := 0; o < len(out); o += inner {
		row := out[o : o+inner]
		if innerStride == 1 {
			copy(row, data[src:src+inner])
		} else {
			for j := range row {
				row[j] = data[src+j*innerStride]
			}
		}
		// Advance the multi-index over the outer axes.
		for ax := last - 1; ax >= 0; ax-- {
			idx[ax]++
			src += srcStrides[ax]
			if idx[ax] < outDims[ax] {
				break
			}
			src -= idx[ax] * srcStrides[ax]
			idx[ax] = 0
		}
	}
	return out
}
