package backend

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// The tests (kernels_test.go) compare every executor Kata installs with GoMLX's
// on every supported layout. The start-up self-check below repeats a few of
// those comparisons on the machine that runs Kata: a micro-kernel chosen by CPU
// features there may never have run in CI. Any executor whose result differs
// from GoMLX's by more than selfCheckTolerance, or that errs or panics, is
// replaced by GoMLX's own again, and KernelsStatus says which and why.

// selfCheckTolerance is the largest difference allowed, relative to the largest
// magnitude of GoMLX's result (as in the tests).
const selfCheckTolerance = 1e-5

// selfCheckCase runs one replaced op on fixed random inputs in [-1, 1]; every
// other op of its graph runs on GoMLX's executors.
type selfCheckCase struct {
	op   backends.OpType
	name string
	dims [][]int // input shapes
	fn   func(xs []*graph.Node) []*graph.Node
}

// selfCheckBig has 65,664 elements: above parallelMin, so the row and flat loops split
// over the cores as they do in a UNet.
var selfCheckBig = []int{2, 6, 72, 76}

func binaryCase(op backends.OpType, f func(a, b *graph.Node) *graph.Node) selfCheckCase {
	return selfCheckCase{op, "broadcasts", [][]int{selfCheckBig, {1, 6, 1, 1}, selfCheckBig, {1, 1, 1, 76}}, func(xs []*graph.Node) []*graph.Node {
		// Bias-like and row-like size-1 operands (read in place, see
		// broadcast.go), same shapes, and a scalar.
		return []*graph.Node{f(xs[0], xs[1]), f(xs[1], xs[0]), f(xs[0], xs[2]), f(xs[3], xs[2]), f(xs[0], graph.Scalar(xs[0].Graph(), xs[0].DType(), 0.75))}
	}}
}

// convWithGradients returns a convolution and its input and kernel gradients,
// which GoMLX builds as convolutions with other layouts and input dilations.
func convWithGradients(conv *graph.ConvolutionBuilder, x, k *graph.Node) []*graph.Node {
	y := conv.Done()
	return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(graph.Mul(y, y)), x, k)...)
}

var nchwAxes = graph.ConvolveAxesConfig{
	InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
	KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
	OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
}

var selfCheckCases = []selfCheckCase{
	{backends.OpTypeDotGeneral, "matmul", [][]int{{70, 50}, {50, 40}, {40, 50}, {70, 40}}, func(xs []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.Einsum("ij,jk->ik", xs[0], xs[1]), graph.Einsum("ij,kj->ik", xs[0], xs[2]), graph.Einsum("ji,jk->ik", xs[0], xs[3])}
	}},
	{backends.OpTypeDotGeneral, "attention", [][]int{{2, 37, 2, 16}, {2, 29, 2, 16}, {2, 29, 2, 4}}, func(xs []*graph.Node) []*graph.Node {
		scores := graph.Einsum("bqhd,bkhd->bhqk", xs[0], xs[1])
		return []*graph.Node{scores, graph.Einsum("bhqk,bkhd->bqhd", scores, xs[2])}
	}},
	{backends.OpTypeConvGeneral, "nhwc-3x3-same", [][]int{{1, 9, 7, 8}, {3, 3, 8, 16}}, func(xs []*graph.Node) []*graph.Node {
		return convWithGradients(graph.Convolve(xs[0], xs[1]).PadSame(), xs[0], xs[1])
	}},
	{backends.OpTypeConvGeneral, "nchw-3x3-stride2", [][]int{{2, 8, 9, 8}, {12, 8, 3, 3}}, func(xs []*graph.Node) []*graph.Node {
		return convWithGradients(graph.Convolve(xs[0], xs[1]).AxesConfig(nchwAxes).Strides(2).PadSame(), xs[0], xs[1])
	}},
	{backends.OpTypeConvGeneral, "nchw-1x1", [][]int{{1, 32, 6, 6}, {24, 32, 1, 1}}, func(xs []*graph.Node) []*graph.Node {
		return convWithGradients(graph.Convolve(xs[0], xs[1]).AxesConfig(nchwAxes).NoPadding(), xs[0], xs[1])
	}},
	binaryCase(backends.OpTypeAdd, graph.Add),
	binaryCase(backends.OpTypeSub, graph.Sub),
	binaryCase(backends.OpTypeMul, graph.Mul),
	binaryCase(backends.OpTypeDiv, func(a, b *graph.Node) *graph.Node { return graph.Div(a, graph.AddScalar(graph.Square(b), 0.5)) }),
	{backends.OpTypeReduceMax, "axes", [][]int{selfCheckBig}, func(xs []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.ReduceMax(xs[0], -1), graph.ReduceMax(xs[0], 0, 2), graph.ReduceMax(xs[0], 0)}
	}},
	{backends.OpTypeReduceSum, "axes", [][]int{selfCheckBig}, func(xs []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.ReduceSum(xs[0], -1), graph.ReduceSum(xs[0], 0, 2), graph.ReduceSum(xs[0], 0)}
	}},
	{backends.OpTypeExp, "flat", [][]int{selfCheckBig}, func(xs []*graph.Node) []*graph.Node {
		// Outputs are compared relative to their largest magnitude: a small
		// range first, where an error in any element shows.
		return []*graph.Node{graph.Exp(xs[0]), graph.Exp(graph.MulScalar(xs[0], 20))}
	}},
	{backends.OpTypeLogistic, "flat", [][]int{selfCheckBig}, func(xs []*graph.Node) []*graph.Node {
		// Both saturated tails and the steep middle.
		return []*graph.Node{graph.Sigmoid(xs[0]), graph.Sigmoid(graph.MulScalar(xs[0], 30))}
	}},
	{backends.OpTypeErf, "flat", [][]int{selfCheckBig}, func(xs []*graph.Node) []*graph.Node {
		// Both branches of the approximation (|x| <= 0.9 and above) and the clamp at 4.
		return []*graph.Node{graph.Erf(xs[0]), graph.Erf(graph.MulScalar(xs[0], 5))}
	}},
	{backends.OpTypeNeg, "flat", [][]int{selfCheckBig}, func(xs []*graph.Node) []*graph.Node { return []*graph.Node{graph.Neg(xs[0])} }},
	{backends.OpTypeBroadcastInDim, "rows", [][]int{{3, 1, 5}, {3, 4, 1}}, func(xs []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.BroadcastToDims(xs[0], 3, 4, 5), graph.BroadcastToDims(xs[1], 3, 4, 8)}
	}},
	{backends.OpTypeSlice, "strided", [][]int{{4, 6, 40}}, func(xs []*graph.Node) []*graph.Node {
		return []*graph.Node{
			graph.Slice(xs[0], graph.AxisRange(1, 3), graph.AxisRange(), graph.AxisRange(2, 39).Stride(3)),
			graph.Slice(xs[0], graph.AxisRange(), graph.AxisRange(1, 5), graph.AxisRange(4, 36)),
		}
	}},
	{backends.OpTypeTranspose, "axes", [][]int{{4, 5, 6, 20}}, func(xs []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.TransposeAllAxes(xs[0], 2, 0, 3, 1), graph.TransposeAllAxes(xs[0], 1, 0, 2, 3)}
	}},
	{backends.OpTypeGather, "rows", [][]int{{7, 5}, {4, 9, 3}}, func(xs []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.Gather(xs[0], graph.Const(xs[0].Graph(), [][]int32{{3}, {0}, {6}, {3}})), graph.Reverse(xs[1], 1)}
	}},
}

// selfCheck runs every case with only its op on Kata's executor (kata) and with
// GoMLX's, then installs Kata's executor for each op whose cases all agree and
// GoMLX's (from stockExecutors) for the others, which it returns with the
// reason. It rewrites simplego's executor table as it goes, so it must finish
// before any other graph runs on a pure-Go backend (installKernels runs it
// under its sync.Once, before the first backend is handed out).
func selfCheck(backend backends.Backend, kata map[backends.OpType]nodeExecutor) map[backends.OpType]error {
	failed := map[backends.OpType]error{}
	for op, stock := range stockExecutors {
		nodeExecutors[op] = stock
	}
	for _, c := range selfCheckCases {
		if _, ok := kata[c.op]; !ok || failed[c.op] != nil {
			continue
		}
		if _, err := runSelfCheck(backend, c, kata[c.op]); err != nil {
			failed[c.op] = fmt.Errorf("%s/%s: %w", c.op, c.name, err)
		}
	}
	for op, exec := range kata {
		if failed[op] == nil {
			nodeExecutors[op] = exec
		}
	}
	return failed
}

// runSelfCheck runs one case with GoMLX's executor for c.op and with exec, and
// compares the outputs. fast reports whether exec computed anything itself
// rather than handing the op to GoMLX (without that the case checks nothing).
func runSelfCheck(backend backends.Backend, c selfCheckCase, exec nodeExecutor) (fast bool, err error) {
	rng := rand.New(rand.NewPCG(uint64(c.op), 1))
	args := make([]any, len(c.dims))
	for i, dims := range c.dims {
		args[i] = randF32(rng, dims...)
	}
	graphExec, err := graph.NewExec(backend, c.fn)
	if err != nil {
		return false, err
	}
	defer graphExec.Finalize()
	want, err := graphExec.Exec(args...)
	if err != nil {
		return false, fmt.Errorf("GoMLX's executors: %w", err)
	}
	stock := nodeExecutors[c.op]
	nodeExecutors[c.op] = exec
	defer func() { nodeExecutors[c.op] = stock }()
	calls := fastCalls.Load()
	got, err := execRecovered(graphExec, args)
	if err != nil {
		return false, err
	}
	fast = fastCalls.Load() != calls
	for i := range want {
		if err := compareFlat(tensors.MustCopyFlatData[float32](got[i]), tensors.MustCopyFlatData[float32](want[i])); err != nil {
			return fast, fmt.Errorf("output %d %s: %w", i, want[i].Shape(), err)
		}
	}
	return fast, nil
}

// execRecovered runs the graph, turning a panic in an executor into an error.
func execRecovered(graphExec *graph.Exec, args []any) (outs []*tensors.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return graphExec.Exec(args...)
}

// compareFlat reports the first element of got that is NaN or differs from want
// by more than selfCheckTolerance times want's largest magnitude.
func compareFlat(got, want []float32) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d elements, GoMLX %d", len(got), len(want))
	}
	var scale float64
	for _, v := range want {
		scale = max(scale, math.Abs(float64(v)))
	}
	for j := range want {
		if d := math.Abs(float64(got[j] - want[j])); d > selfCheckTolerance*scale || math.IsNaN(float64(got[j])) {
			return fmt.Errorf("element %d is %g, GoMLX %g (scale %g)", j, got[j], want[j], scale)
		}
	}
	return nil
}

// randUniform returns a tensor with values uniform in [-1, 1).
func randUniform[T float32 | float64](rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]T, n)
	for i := range data {
		data[i] = T(2*rng.Float64() - 1)
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// randF32 returns a float32 tensor with values uniform in [-1, 1).
var randF32 = randUniform[float32]
