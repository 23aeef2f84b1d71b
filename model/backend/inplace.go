package backend

import (
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"kata/model/backend/vmath"
)

// execNegF32 computes Neg as a SIMD multiplication by -1 (exact, and -0 for
// +0 like negation), in place when the input is not needed afterwards.
func execNegF32(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	n := mirror(node)
	stock := stockExecutors[n.opType]
	if !kernelsOn.Load() || n.shape.DType != dtypes.Float32 || !vmath.HasSIMD() {
		return stock(backend, node, inputs, owned)
	}
	_, x, ok := float32Flat(backend, inputs[0])
	if !ok || len(x) != n.shape.Size() {
		return stock(backend, node, inputs, owned)
	}
	outBuf, dst, err := outputInPlace(backend, n, inputs, owned, 0)
	if err != nil {
		return nil, err
	}
	minusOne := []float32{-1}
	parFlat(len(x), func(lo, hi int) { vmath.Binary(vmath.Mul, dst[lo:hi], x[lo:hi], minusOne) })
	fastCalls.Add(1)
	return outBuf, nil
}

// outputInPlace returns the output buffer of an elementwise op: the first of
// the candidate inputs that simplego lets the op overwrite (owned: no later op
// reads it) and that has the output's shape, marked as taken over (nil in
// inputs, as simplego's own executors do), or else a new buffer. Overwriting an
// operand saves the traffic of a fresh output on these memory-bound ops; it is
// only correct where each output element is computed from the same element of
// that operand (same index), which callers guarantee.
func outputInPlace(backend *simplego.Backend, n *nodeMirror, inputs []*simplego.Buffer, owned []bool, candidates ...int) (*simplego.Buffer, []float32, error) {
	for _, i := range candidates {
		if i >= len(owned) || i >= len(inputs) || !owned[i] || inputs[i] == nil {
			continue
		}
		shape, flat, ok := float32Flat(backend, inputs[i])
		if !ok || !shape.Equal(n.shape) || len(flat) != n.shape.Size() {
			continue
		}
		buf := inputs[i]
		inputs[i] = nil
		return buf, flat, nil
	}
	return newOutput(backend, n.shape)
}
