package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/backend/gemm"
)

// setKernels switches between Kata's executors (true) and GoMLX's (false) and
// returns a function restoring the previous state.
func setKernels(on bool) (restore func()) {
	prev := UseKernels(on)
	return func() { UseKernels(prev) }
}

// compareWithStock runs fn with Kata's kernels and with GoMLX's executors and
// requires every output to agree within 1e-5 of the largest reference magnitude.
func compareWithStock(t *testing.T, backend backends.Backend, fn func(xs []*Node) []*Node, inputs ...*tensors.Tensor) {
	t.Helper()
	exec, err := NewExec(backend, fn)
	if err != nil {
		t.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	run := func(on bool) []*tensors.Tensor {
		defer setKernels(on)()
		outs, err := exec.Exec(args...)
		if err != nil {
			t.Fatalf("exec (kernels=%v): %v", on, err)
		}
		return outs
	}
	if len(selfCheckFailed) > 0 {
		// The self-check put GoMLX's executor back: the comparison below would
		// compare GoMLX with itself.
		t.Fatalf("self-check put back GoMLX's executors: %v", selfCheckFailed)
	}
	calls, falls := fastCalls.Load(), fallbacks.Load()
	fast := run(true)
	if fastCalls.Load() == calls {
		t.Fatal("no op ran through Kata's kernels")
	}
	if n := fallbacks.Load() - falls; n != 0 {
		t.Fatalf("%d ops fell back to GoMLX's executors", n)
	}
	stock := run(false)
	for i := range stock {
		got, want := tensors.MustCopyFlatData[float32](fast[i]), tensors.MustCopyFlatData[float32](stock[i])
		if !fast[i].Shape().Equal(stock[i].Shape()) {
			t.Fatalf("output %d: shape %s, stock %s", i, fast[i].Shape(), stock[i].Shape())
		}
		var scale float64
		for _, v := range want {
			scale = max(scale, math.Abs(float64(v)))
		}
		for j := range want {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-5*scale || math.IsNaN(float64(got[j])) {
				t.Fatalf("output %d %s element %d: kata %g, stock %g (scale %g)", i, stock[i].Shape(), j, got[j], want[j], scale)
			}
		}
	}
}

func TestKernelsInstalled(t *testing.T) {
	newGoBackend(t)
	if installError != nil {
		t.Fatalf("kernels not installed: %v", installError)
	}
	if len(selfCheckFailed) > 0 {
		t.Fatalf("self-check put back GoMLX's executors: %v", selfCheckFailed)
	}
	status := KernelsStatus()
	if gemm.Kernel() == "avx512" && !strings.Contains(status, "AVX-512") {
		t.Errorf("KernelsStatus() = %q with the avx512 micro-kernel", status)
	}
	if !strings.HasPrefix(Resolve("go").Name, "go (pure Go, ") {
		t.Errorf("Resolve(go) = %+v", Resolve("go"))
	}
}

func TestDotGeneralMatchesStock(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(21, 22))
	for _, kernel := range gemm.Available() {
		if kernel == "go" {
			continue // DotGeneral keeps GoMLX's executor then
		}
		prev, _ := gemm.Use(kernel)
		for _, tc := range []struct {
			eq       string
			lhs, rhs []int
		}{
			{"ij,jk->ik", []int{1, 1}, []int{1, 1}},
			{"ij,jk->ik", []int{300, 270}, []int{270, 530}},
			{"ij,kj->ik", []int{77, 64}, []int{40, 64}},
			{"ji,jk->ik", []int{64, 77}, []int{64, 40}},
			{"bij,bjk->bik", []int{8, 33, 20}, []int{8, 20, 17}},
			{"bqhd,bkhd->bhqk", []int{2, 50, 4, 16}, []int{2, 40, 4, 16}},
			{"bhqk,bkhd->bqhd", []int{2, 4, 50, 40}, []int{2, 40, 4, 16}},
			{"bsc,oc->bso", []int{2, 77, 96}, []int{128, 96}},
			{"bsc,co->bso", []int{1, 4096, 32}, []int{32, 64}},
			// Attention with 4-wide heads: the narrow GEMM paths (dot products and
			// row accumulation) in the product and in both gradients.
			{"bqhd,bkhd->bhqk", []int{2, 96, 2, 4}, []int{2, 80, 2, 4}},
			{"bhqk,bkhd->bqhd", []int{2, 2, 96, 80}, []int{2, 80, 2, 4}},
			{"bhqk,bkhd->bqhd", []int{1, 1, 300, 77}, []int{1, 77, 1, 8}},
		} {
			t.Run(kernel+"/"+tc.eq+fmt.Sprint(tc.lhs, tc.rhs), func(t *testing.T) {
				compareWithStock(t, backend, func(xs []*Node) []*Node {
					y := Einsum(tc.eq, xs[0], xs[1])
					return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, y)), xs...)...)
				}, randF32(rng, tc.lhs...), randF32(rng, tc.rhs...))
			})
		}
		t.Run(kernel+"/non-mergeable-contracting", func(t *testing.T) {
			compareWithStock(t, backend, func(xs []*Node) []*Node {
				return []*Node{DotGeneral(xs[0], []int{3, 1}, []int{0}, xs[1], []int{1, 2}, []int{0})}
			}, randF32(rng, 2, 3, 5, 4), randF32(rng, 2, 4, 3, 6))
		})
		gemm.Use(prev)
	}
}

// convCase is a convolution layout and geometry met in SD's UNet/VAE and their gradients.
type convCase struct {
	name             string
	channelsFirst    bool
	batch, cin, cout int
	h, w, kernel     int
	stride, dilation int
	padSame          bool
}

func (tc convCase) build(xs []*Node) *Node {
	conv := Convolve(xs[0], xs[1])
	if tc.channelsFirst {
		conv = conv.AxesConfig(ConvolveAxesConfig{
			InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
			KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
			OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
		})
	}
	if tc.stride > 1 {
		conv = conv.Strides(tc.stride)
	}
	if tc.dilation > 1 {
		conv = conv.Dilations(tc.dilation)
	}
	if tc.padSame {
		conv = conv.PadSame()
	} else {
		conv = conv.NoPadding()
	}
	return conv.Done()
}

func (tc convCase) inputs(rng *rand.Rand) []*tensors.Tensor {
	if tc.channelsFirst { // NCHW input, OIHW kernel (diffusers layout)
		return []*tensors.Tensor{randF32(rng, tc.batch, tc.cin, tc.h, tc.w), randF32(rng, tc.cout, tc.cin, tc.kernel, tc.kernel)}
	}
	return []*tensors.Tensor{randF32(rng, tc.batch, tc.h, tc.w, tc.cin), randF32(rng, tc.kernel, tc.kernel, tc.cin, tc.cout)}
}

var convCases = []convCase{
	{"nhwc/3x3/s1/same", false, 2, 8, 16, 9, 7, 3, 1, 1, true},
	{"nhwc/3x3/s2/same", false, 2, 8, 12, 9, 8, 3, 2, 1, true},
	{"nhwc/1x1/s1", false, 1, 32, 24, 6, 6, 1, 1, 1, false},
	{"nhwc/3x3/s1/valid", false, 3, 4, 5, 8, 6, 3, 1, 1, false},
	{"nhwc/3x3/dilation2", false, 1, 4, 6, 9, 9, 3, 1, 2, true},
	{"nchw/3x3/s1/same", true, 2, 8, 16, 9, 7, 3, 1, 1, true},
	{"nchw/3x3/s2/same", true, 2, 8, 12, 9, 8, 3, 2, 1, true},
	{"nchw/1x1/s1", true, 1, 32, 24, 6, 6, 1, 1, 1, false},
	{"nchw/3x3/s2/valid", true, 1, 3, 4, 11, 10, 3, 2, 1, false},
	{"nhwc/unet-like", false, 1, 32, 32, 32, 32, 3, 1, 1, true},
	{"nchw/unet-like", true, 1, 32, 32, 32, 32, 3, 1, 1, true},
	{"nchw/conv-out-4ch", true, 2, 32, 4, 16, 16, 3, 1, 1, true}, // narrow GEMM paths
	// More input channels than kernel positions: the kernel gradient runs in
	// batch-rows mode (row-major runs, rows split over the cores, from 16-wide
	// outputs; a gather below).
	{"nchw/3x3/s1/same/cin17-19x21", true, 2, 17, 5, 19, 21, 3, 1, 1, true},
	{"nchw/3x3/s2/same/cin20-33x35", true, 2, 20, 6, 33, 35, 3, 2, 1, true},
	{"nchw/3x3/s1/valid/cin33-18x20", true, 1, 33, 7, 18, 20, 3, 1, 1, false},
	{"nchw/3x3/s1/same/cin41", true, 3, 41, 12, 7, 5, 3, 1, 1, true},
	{"nchw/3x3/s2/same/cin36", true, 2, 36, 8, 9, 8, 3, 2, 1, true},
	{"nchw/3x3/s2/valid/cin20", true, 2, 20, 6, 11, 10, 3, 2, 1, false},
	{"nchw/3x3/dilation2/cin24", true, 2, 24, 5, 9, 9, 3, 1, 2, true},
	{"nchw/1x1/cin40", true, 3, 40, 7, 5, 6, 1, 1, 1, false},
	// The input gradient's im2col (k = 9 x 160) is split into chunks of 192
	// output positions, the second starting mid-row of the 15x15 output.
	{"nchw/3x3/s2/same/chunked-rows", true, 1, 4, 160, 15, 15, 3, 2, 1, true},
	// Small maps: batch elements grouped into one im2col matrix (one group,
	// one group per core, more batch elements than output positions).
	{"nchw/3x3/s1/same/4x4-batch5", true, 5, 16, 8, 4, 4, 3, 1, 1, true},
	{"nchw/3x3/s1/same/4x4-batch8", true, 8, 16, 8, 4, 4, 3, 1, 1, true},
	{"nchw/3x3/s1/same/2x2-batch6", true, 6, 8, 12, 2, 2, 3, 1, 1, true},
	{"nchw/3x3/s2/same/8x8-batch7", true, 7, 12, 20, 8, 8, 3, 2, 1, true},
	{"nhwc/3x3/s1/same/3x5-batch9", false, 9, 6, 10, 3, 5, 3, 1, 1, true},
}

func TestConvMatchesStock(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(31, 32))
	for _, kernel := range gemm.Available() {
		prev, _ := gemm.Use(kernel)
		for _, tc := range convCases {
			t.Run(kernel+"/"+tc.name, func(t *testing.T) {
				compareWithStock(t, backend, func(xs []*Node) []*Node {
					y := tc.build(xs)
					// Forward, and the input and kernel gradients (GoMLX builds them as
					// convolutions with input dilations and swapped axes).
					return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, y)), xs...)...)
				}, tc.inputs(rng)...)
			})
		}
		gemm.Use(prev)
	}
}

func TestGatherClampsLikeStock(t *testing.T) {
	// Forward only: GoMLX's scatter (the gradient) panics on out-of-range indices.
	backend := newGoBackend(t)
	compareWithStock(t, backend, func(xs []*Node) []*Node {
		idx := Const(xs[0].Graph(), [][]int32{{3}, {0}, {6}, {9}, {-2}})
		return []*Node{Gather(xs[0], idx)}
	}, randF32(rand.New(rand.NewPCG(43, 44)), 7, 5))
}

func TestElementwiseMatchesStock(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(41, 42))
	for _, tc := range []struct {
		name string
		dims []int
		fn   func(x *Node) *Node
	}{
		{"softmax-last", []int{2, 3, 17, 33}, func(x *Node) *Node { return Softmax(x, -1) }},
		{"softmax-middle", []int{2, 9, 5}, func(x *Node) *Node { return Softmax(x, 1) }},
		{"group-stats", []int{2, 4, 3, 40}, func(x *Node) *Node {
			mean := ReduceAndKeep(x, ReduceMean, 2, 3)
			c := Sub(x, mean)
			return Div(c, Sqrt(AddScalar(ReduceAndKeep(Square(c), ReduceMean, 2, 3), 1e-5)))
		}},
		{"bias-nchw", []int{2, 6, 5, 7}, func(x *Node) *Node {
			b := Reshape(Iota(x.Graph(), shapes.Make(dtypes.Float32, 6), 0), 1, 6, 1, 1)
			return Mul(Add(x, b), Sub(b, x))
		}},
		{"leading-broadcast", []int{3, 50}, func(x *Node) *Node {
			row := ReduceAndKeep(x, ReduceMax, 0)
			return Div(Sub(row, x), AddScalar(row, 3))
		}},
		{"reduce-middle", []int{4, 6, 9}, func(x *Node) *Node {
			return Add(ReduceSum(x, 0, 2), ReduceMax(x, 0, 2))
		}},
		{"exp-broadcast", []int{3, 4, 21}, func(x *Node) *Node {
			b := BroadcastToDims(Reshape(ReduceSum(x, 1), 3, 1, 1, 21), 3, 2, 4, 21)
			return Add(Exp(MulScalar(x, 30)), ReduceSum(Exp(b), 1))
		}},
		{"slices", []int{4, 6, 9}, func(x *Node) *Node {
			a := Slice(x, AxisRange(1, 3), AxisRange(), AxisRange(2, 9).Stride(3))
			b := Slice(x, AxisRange(), AxisRange(), AxisRange(0, 6).Stride(2))
			return Add(Reverse(Reshape(a, 2, 6, 3), 0, 2), Slice(b, AxisRange(0, 2), AxisRange(), AxisRange()))
		}},
		{"reverse", []int{4, 5, 6, 3}, func(x *Node) *Node {
			return Add(Reverse(x, 2, 3), Reverse(x, 0, 2))
		}},
		{"gather-rows", []int{7, 5}, func(x *Node) *Node {
			return Gather(x, Const(x.Graph(), [][]int32{{3}, {0}, {6}, {3}}))
		}},
		{"large-parallel", []int{4, 128, 160}, func(x *Node) *Node {
			// Above parallelMin: rows and flat kernels split over the cores.
			sm := Softmax(x, -1)
			norm := Sub(x, ReduceAndKeep(x, ReduceMean, 0, 1))
			t := TransposeAllAxes(Exp(MulScalar(x, 0.5)), 2, 0, 1)
			return Add(Add(sm, norm), Add(TransposeAllAxes(t, 1, 2, 0), Slice(Concatenate([]*Node{x, x}, 2), AxisRange(), AxisRange(), AxisRange(80, 240))))
		}},
		{"neg-in-place", []int{4, 128, 160}, func(x *Node) *Node {
			// Intermediates used once are overwritten by the next op.
			e := Neg(Exp(x))
			return Add(Mul(Neg(MulScalar(x, 2)), Sub(x, e)), Div(Neg(x), AddScalar(Exp(x), 1)))
		}},
		{"activations", []int{3, 5, 7}, func(x *Node) *Node {
			// SiLU, quickGELU and exact GELU on a tensor below parallelMin whose
			// size is not a multiple of 8 (the kernels' portable tail).
			return Add(Mul(x, Sigmoid(MulScalar(x, 4))), Mul(x, OnePlus(Erf(MulScalar(x, 3)))))
		}},
		{"activations-parallel", []int{4, 128, 160}, func(x *Node) *Node {
			// Split over the cores; the intermediates are overwritten in place.
			s := Sigmoid(MulScalar(x, 8))
			return Add(Mul(x, s), Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 5/math.Sqrt2)))))
		}},
		{"stream-stores", []int{2, 1024, 4096}, func(x *Node) *Node {
			// 32 MiB outputs that overlap no operand: non-temporal stores.
			return Add(Mul(x, x), Sub(x, ReduceAndKeep(x, ReduceMax, -1)))
		}},
		{"reduce-outer", []int{5, 6, 16}, func(x *Node) *Node {
			return Concatenate([]*Node{ReduceSum(x, 0), ReduceMax(x, 0)}, 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareWithStock(t, backend, func(xs []*Node) []*Node {
				y := tc.fn(xs[0])
				// Position-dependent weights: sum(y^2) of a normalised y is constant,
				// which would leave only rounding noise in the gradient.
				w := Sin(Iota(y.Graph(), y.Shape(), y.Rank()-1))
				for ax := 0; ax < y.Rank()-1; ax++ {
					w = Add(w, Cos(Iota(y.Graph(), y.Shape(), ax)))
				}
				return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, w)), xs[0])...)
			}, randF32(rng, tc.dims...))
		})
	}
}

func TestConvUnusualLayoutMatchesStock(t *testing.T) {
	// Output [batch, height, channels, width]: the output positions do not merge
	// into one stride (scatter path); the kernel [out, h, in, w] is copied.
	// Forward only: GoMLX v0.26's conv gradient mis-shapes the input gradient
	// when input and output layouts differ.
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(61, 62))
	axes := ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 3, InputSpatial: []int{1, 2},
		KernelOutputChannels: 0, KernelInputChannels: 2, KernelSpatial: []int{1, 3},
		OutputBatch: 0, OutputChannels: 2, OutputSpatial: []int{1, 3},
	}
	compareWithStock(t, backend, func(xs []*Node) []*Node {
		return []*Node{ConvGeneral(xs[0], xs[1], axes, []int{2, 1}, [][2]int{{1, 1}, {1, 0}}, nil, nil, 1, 1)}
	}, randF32(rng, 2, 9, 7, 5), randF32(rng, 6, 3, 5, 3))
}

func TestConv1DAnd3DMatchStock(t *testing.T) {
	// Small maps of rank 1 and 3 (channels last): batch elements grouped into
	// one im2col, the generic fills, with both gradients.
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(71, 72))
	for _, tc := range []struct {
		name    string
		x, k    []int
		strides int
	}{
		{"1d", []int{5, 7, 6}, []int{3, 6, 4}, 1},
		{"1d/stride2", []int{4, 11, 3}, []int{3, 3, 5}, 2},
		{"3d", []int{3, 3, 4, 2, 5}, []int{3, 3, 1, 5, 6}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compareWithStock(t, backend, func(xs []*Node) []*Node {
				y := Convolve(xs[0], xs[1]).Strides(tc.strides).PadSame().Done()
				return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, y)), xs...)...)
			}, randF32(rng, tc.x...), randF32(rng, tc.k...))
		})
	}
}
