package backend

import (
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"kata/model/backend/vmath"
)

// Broadcasting binary ops and reductions are most of the non-GEMM time of an SD
// step (softmax over attention scores, group norm, bias adds). simplego walks
// them element by element with a multi-axis iterator; these executors collapse
// the axes and run tight loops over the innermost one. Other cases (same
// shapes, scalars, non-float32) stay with GoMLX's executors.

// stockExecutors holds GoMLX's executors for the ops replaced here.
var stockExecutors = map[backends.OpType]nodeExecutor{}

// elementwiseExecutors are the executors elementwise.go installs.
var elementwiseExecutors = map[backends.OpType]nodeExecutor{
	backends.OpTypeAdd:            execBinary,
	backends.OpTypeSub:            execBinary,
	backends.OpTypeMul:            execBinary,
	backends.OpTypeDiv:            execBinary,
	backends.OpTypeReduceMax:      execReduceF32,
	backends.OpTypeReduceSum:      execReduceF32,
	backends.OpTypeExp:            execExpF32,
	backends.OpTypeBroadcastInDim: execBroadcastF32,
}

// execExpF32 computes Exp with the SIMD kernel of package vmath.
func execExpF32(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	n := mirror(node)
	stock := stockExecutors[n.opType]
	if !kernelsOn.Load() || n.shape.DType != dtypes.Float32 || !vmath.HasSIMD() {
		return stock(backend, node, inputs, owned)
	}
	_, x, ok := float32Flat(backend, inputs[0])
	if !ok || len(x) != n.shape.Size() {
		return stock(backend, node, inputs, owned)
	}
	outBuf, dst, err := newOutput(backend, n.shape)
	if err != nil {
		return nil, err
	}
	vmath.Exp(dst, x)
	fastCalls.Add(1)
	return outBuf, nil
}

// execBroadcastF32 computes BroadcastInDim as row copies or row fills.
func execBroadcastF32(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	n := mirror(node)
	stock := stockExecutors[n.opType]
	axes, okAxes := n.data.([]int)
	if !kernelsOn.Load() || !okAxes || n.shape.DType != dtypes.Float32 || n.shape.Size() == 0 {
		return stock(backend, node, inputs, owned)
	}
	inShape, x, ok := float32Flat(backend, inputs[0])
	out := n.shape.Dimensions
	if !ok || len(axes) != inShape.Rank() || inShape.Size() == 1 {
		return stock(backend, node, inputs, owned)
	}
	// Operand strides in output space: 0 on new or broadcast (size-1) axes.
	sa := make([]int, len(out))
	inStrides := rowMajorStrides(inShape.Dimensions)
	for i, ax := range axes {
		if ax < 0 || ax >= len(out) {
			return stock(backend, node, inputs, owned)
		}
		switch inShape.Dimensions[i] {
		case out[ax]:
			sa[ax] = inStrides[i]
		case 1:
		default:
			return stock(backend, node, inputs, owned)
		}
	}
	dims, strides := collapse(out, sa)
	inner := dims[len(dims)-1]
	if inner < 4 {
		return stock(backend, node, inputs, owned)
	}
	outBuf, dst, err := newOutput(backend, n.shape)
	if err != nil {
		return nil, err
	}
	contiguous := strides[0][len(dims)-1] == 1
	forRows(dims, strides, func(o int, offs []int) {
		row := dst[o : o+inner]
		if contiguous {
			copy(row, x[offs[0]:offs[0]+inner])
			return
		}
		v := x[offs[0]]
		for i := range row {
			row[i] = v
		}
	})
	fastCalls.Add(1)
	return outBuf, nil
}

func execBinary(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	n := mirror(node)
	stock := stockExecutors[n.opType]
	if !kernelsOn.Load() || n.shape.DType != dtypes.Float32 {
		return stock(backend, node, inputs, owned)
	}
	aShape, a, ok1 := float32Flat(backend, inputs[0])
	bShape, b, ok2 := float32Flat(backend, inputs[1])
	out := n.shape.Dimensions
	if !ok1 || !ok2 || aShape.Rank() != len(out) || bShape.Rank() != len(out) ||
		aShape.Equal(bShape) || aShape.Size() == 1 || bShape.Size() == 1 || n.shape.Size() == 0 {
		return stock(backend, node, inputs, owned)
	}
	// Output-space strides of both operands (0 on broadcast axes), then merge axes.
	rank := len(out)
	sa, sb := make([]int, rank), make([]int, rank)
	accA, accB := 1, 1
	for ax := rank - 1; ax >= 0; ax-- {
		if aShape.Dimensions[ax] == out[ax] {
			sa[ax] = accA
			accA *= out[ax]
		} else if aShape.Dimensions[ax] != 1 {
			return stock(backend, node, inputs, owned)
		}
		if bShape.Dimensions[ax] == out[ax] {
			sb[ax] = accB
			accB *= out[ax]
		} else if bShape.Dimensions[ax] != 1 {
			return stock(backend, node, inputs, owned)
		}
	}
	dims, strides := collapse(out, sa, sb)
	inner := dims[len(dims)-1]
	if inner < 4 {
		return stock(backend, node, inputs, owned)
	}
	outBuf, dst, err := newOutput(backend, n.shape)
	if err != nil {
		return nil, err
	}
	ia, ib := strides[0][len(dims)-1], strides[1][len(dims)-1]
	forRows(dims, strides, func(o int, offs []int) {
		binaryRow(n.opType, dst[o:o+inner], a[offs[0]:], ia, b[offs[1]:], ib)
	})
	fastCalls.Add(1)
	return outBuf, nil
}

// collapse drops unit axes and merges neighbours whose operand strides are all
// contiguous (or all broadcast) across them. It returns dims and, per operand,
// the strides of the collapsed axes.
func collapse(dims []int, operandStrides ...[]int) ([]int, [][]int) {
	var outDims []int
	outStrides := make([][]int, len(operandStrides))
	for ax, d := range dims {
		if d == 1 {
			continue
		}
		last := len(outDims) - 1
		merge := last >= 0
		for i, s := range operandStrides {
			if merge && outStrides[i][last] != s[ax]*d {
				merge = false
			}
		}
		if merge {
			for i, s := range operandStrides {
				outStrides[i][last] = s[ax]
			}
			outDims[last] *= d
			continue
		}
		outDims = append(outDims, d)
		for i, s := range operandStrides {
			outStrides[i] = append(outStrides[i], s[ax])
		}
	}
	if len(outDims) == 0 {
		outDims = []int{1}
		for i := range outStrides {
			outStrides[i] = []int{0}
		}
	}
	return outDims, outStrides
}

// forRows calls fn for every innermost row: o is the row's flat output offset and
// offs the operands' offsets.
func forRows(dims []int, strides [][]int, fn func(o int, offs []int)) {
	outer := len(dims) - 1
	inner := dims[outer]
	idx := make([]int, outer)
	offs := make([]int, len(strides))
	for o := 0; ; o += inner {
		fn(o, offs)
		ax := outer - 1
		for ; ax >= 0; ax-- {
			idx[ax]++
			for i := range offs {
				offs[i] += strides[i][ax]
			}
			if idx[ax] < dims[ax] {
				break
			}
			for i := range offs {
				offs[i] -= idx[ax] * strides[i][ax]
			}
			idx[ax] = 0
		}
		if ax < 0 {
			return
		}
	}
}

// binaryRow computes dst[i] = a[i*ia] op b[i*ib] with ia, ib in {0, 1}.
func binaryRow(op backends.OpType, dst, a []float32, ia int, b []float32, ib int) {
	n := len(dst)
	switch {
	case ia == 1 && ib == 1:
		a, b = a[:n], b[:n]
		switch op {
		case backends.OpTypeAdd:
			for i := range dst {
				dst[i] = a[i] + b[i]
			}
		case backends.OpTypeSub:
			for i := range dst {
				dst[i] = a[i] - b[i]
			}
		case backends.OpTypeMul:
			for i := range dst {
				dst[i] = a[i] * b[i]
			}
		case backends.OpTypeDiv:
			for i := range dst {
				dst[i] = a[i] / b[i]
			}
		}
	case ia == 1:
		a, c := a[:n], b[0]
		switch op {
		case backends.OpTypeAdd:
			for i := range dst {
				dst[i] = a[i] + c
			}
		case backends.OpTypeSub:
			for i := range dst {
				dst[i] = a[i] - c
			}
		case backends.OpTypeMul:
			for i := range dst {
				dst[i] = a[i] * c
			}
		case backends.OpTypeDiv:
			for i := range dst {
				dst[i] = a[i] / c
			}
		}
	default:
		c, b := a[0], b[:n]
		switch op {
		case backends.OpTypeAdd:
			for i := range dst {
				dst[i] = c + b[i]
			}
		case backends.OpTypeSub:
			for i := range dst {
				dst[i] = c - b[i]
			}
		case backends.OpTypeMul:
			for i := range dst {
				dst[i] = c * b[i]
			}
		case backends.OpTypeDiv:
			for i := range dst {
				dst[i] = c / b[i]
			}
		}
	}
}

func execReduceF32(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	n := mirror(node)
	stock := stockExecutors[n.opType]
	axes, okAxes := n.data.([]int)
	if !kernelsOn.Load() || !okAxes || len(axes) == 0 || n.shape.DType != dtypes.Float32 {
		return stock(backend, node, inputs, owned)
	}
	inShape, x, ok := float32Flat(backend, inputs[0])
	if !ok || inShape.Size() == 0 || n.shape.Size() == 0 {
		return stock(backend, node, inputs, owned)
	}
	dims := inShape.Dimensions
	rank := len(dims)
	reduced := make([]bool, rank)
	for _, ax := range axes {
		if ax < 0 || ax >= rank {
			return stock(backend, node, inputs, owned)
		}
		reduced[ax] = true
	}
	sx, so := rowMajorStrides(dims), make([]int, rank)
	acc := 1
	for ax := rank - 1; ax >= 0; ax-- {
		if !reduced[ax] {
			so[ax] = acc
			acc *= dims[ax]
		}
	}
	cDims, cStrides := collapse(dims, sx, so)
	inner := cDims[len(cDims)-1]
	if inner < 4 {
		return stock(backend, node, inputs, owned)
	}
	outBuf, dst, err := newOutput(backend, n.shape)
	if err != nil {
		return nil, err
	}
	isMax := n.opType == backends.OpTypeReduceMax
	init := float32(0)
	if isMax {
		init = float32(math.Inf(-1))
	}
	for i := range dst {
		dst[i] = init
	}
	innerReduced := cStrides[1][len(cDims)-1] == 0
	forRows(cDims, cStrides, func(_ int, offs []int) {
		row := x[offs[0] : offs[0]+inner]
		o := offs[1]
		switch {
		case innerReduced && isMax:
			dst[o] = max(dst[o], maxF32(row))
		case innerReduced:
			dst[o] += sumF32(row)
		case isMax:
			d := dst[o : o+inner]
			for i, v := range row {
				d[i] = max(d[i], v)
			}
		default:
			d := dst[o : o+inner]
			for i, v := range row {
				d[i] += v
			}
		}
	})
	fastCalls.Add(1)
	return outBuf, nil
}

func maxF32(row []float32) float32 {
	m0, m1, m2, m3 := row[0], row[0], row[0], row[0]
	i := 0
	for ; i+4 <= len(row); i += 4 {
		m0, m1, m2, m3 = max(m0, row[i]), max(m1, row[i+1]), max(m2, row[i+2]), max(m3, row[i+3])
	}
	for ; i < len(row); i++ {
		m0 = max(m0, row[i])
	}
	return max(max(m0, m1), max(m2, m3))
}

func sumF32(row []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(row); i += 4 {
		s0 += row[i]
		s1 += row[i+1]
		s2 += row[i+2]
		s3 += row[i+3]
	}
	for ; i < len(row); i++ {
		s0 += row[i]
	}
	return (s0 + s1) + (s2 + s3)
}
