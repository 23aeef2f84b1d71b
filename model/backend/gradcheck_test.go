package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// lossFn builds a scalar loss from the inputs.
type lossFn func(inputs []*Node) *Node

// weightedSum makes a scalar from y with fixed pseudo-random weights, so that every
// output element (and its position) matters for the gradient.
func weightedSum(y *Node) *Node {
	n := y.Shape().Size()
	w := make([]float64, n)
	rng := rand.New(rand.NewPCG(7, uint64(n)))
	for i := range w {
		w[i] = 2*rng.Float64() - 1
	}
	wt := Const(y.Graph(), tensors.FromFlatDataAndDimensions(w, y.Shape().Dimensions...))
	return ReduceAllSum(Mul(y, ConvertDType(wt, y.DType())))
}

// checkGradients compares the backend's gradient of loss w.r.t. every input with
// central finite differences on up to samples elements per input (float64).
func checkGradients(t *testing.T, backend backends.Backend, loss lossFn, inputs []*tensors.Tensor, samples int) {
	t.Helper()
	gradExec, err := NewExec(backend, func(xs []*Node) []*Node {
		l := loss(xs)
		return append([]*Node{l}, Gradient(l, xs...)...)
	})
	if err != nil {
		t.Fatalf("build gradient graph: %v", err)
	}
	lossExec, err := NewExec(backend, func(xs []*Node) *Node { return loss(xs) })
	if err != nil {
		t.Fatalf("build loss graph: %v", err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	outs, err := gradExec.Exec(args...)
	if err != nil {
		t.Fatalf("execute gradient graph: %v", err)
	}
	evalLoss := func(a []any) float64 {
		r, err := lossExec.Exec(a...)
		if err != nil {
			t.Fatalf("execute loss graph: %v", err)
		}
		return r[0].Value().(float64)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const eps = 1e-5
	for i, in := range inputs {
		grad := tensors.MustCopyFlatData[float64](outs[i+1])
		base := tensors.MustCopyFlatData[float64](in)
		dims := in.Shape().Dimensions
		idxs := rng.Perm(len(base))
		if len(idxs) > samples {
			idxs = idxs[:samples]
		}
		for _, k := range idxs {
			eval := func(delta float64) float64 {
				p := append([]float64(nil), base...)
				p[k] += delta
				a := append([]any(nil), args...)
				a[i] = tensors.FromFlatDataAndDimensions(p, dims...)
				return evalLoss(a)
			}
			numeric := (eval(eps) - eval(-eps)) / (2 * eps)
			if diff := math.Abs(numeric - grad[k]); diff > 1e-6*(1+math.Abs(numeric)) {
				t.Errorf("input %d element %d: gradient %.9g, finite difference %.9g", i, k, grad[k], numeric)
			}
		}
	}
}

func newGoBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := New("go")
	if err != nil {
		t.Fatalf("New(go): %v", err)
	}
	return b
}

func TestConvGradients(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name          string
		channelsFirst bool
		stride        int
		kernel        int
		padSame       bool
	}{
		{"nhwc/3x3/stride1/same", false, 1, 3, true},
		{"nhwc/3x3/stride2/pad1", false, 2, 3, true},
		{"nchw/3x3/stride1/same", true, 1, 3, true},
		{"nchw/3x3/stride2/pad1", true, 2, 3, true},
		{"nchw/1x1/stride1", true, 1, 1, false},
		{"nhwc/3x3/stride2/valid", false, 2, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const batch, cin, cout, h, w = 2, 3, 4, 7, 6
			var x, k *tensors.Tensor
			if tc.channelsFirst {
				x = randUniform[float64](rng, batch, cin, h, w)
			} else {
				x = randUniform[float64](rng, batch, h, w, cin)
			}
			k = randUniform[float64](rng, tc.kernel, tc.kernel, cin, cout)
			bias := randUniform[float64](rng, cout)
			loss := func(xs []*Node) *Node {
				conv := Convolve(xs[0], xs[1]).Strides(tc.stride)
				if tc.channelsFirst {
					conv = Convolve(xs[0], xs[1]).ChannelsAxis(0).Strides(tc.stride)
					conv.AxesConfig(ConvolveAxesConfig{
						InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
						KernelInputChannels: 2, KernelOutputChannels: 3, KernelSpatial: []int{0, 1},
						OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
					})
				}
				if tc.padSame {
					conv = conv.PadSame()
				} else {
					conv = conv.NoPadding()
				}
				y := conv.Done()
				if tc.channelsFirst {
					y = Add(y, Reshape(xs[2], 1, cout, 1, 1))
				} else {
					y = Add(y, Reshape(xs[2], 1, 1, 1, cout))
				}
				return weightedSum(y)
			}
			checkGradients(t, backend, loss, []*tensors.Tensor{x, k, bias}, 24)
		})
	}
}

func TestConvWithoutExplicitStrides(t *testing.T) {
	// GoMLX's conv gradient builds convolutions without strides; the bare builder call must work too.
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(5, 6))
	x, k := randUniform[float64](rng, 1, 5, 5, 2), randUniform[float64](rng, 3, 3, 2, 2)
	checkGradients(t, backend, func(xs []*Node) *Node {
		return weightedSum(Convolve(xs[0], xs[1]).PadSame().Done())
	}, []*tensors.Tensor{x, k}, 16)
}

func TestDotGeneralGradients(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(7, 8))
	for _, tc := range []struct {
		eq       string
		lhs, rhs []int
	}{
		{"ij,jk->ik", []int{5, 4}, []int{4, 3}},
		{"bij,bjk->bik", []int{2, 5, 4}, []int{2, 4, 3}},
		{"bqhd,bkhd->bhqk", []int{2, 5, 3, 4}, []int{2, 6, 3, 4}},
		{"bhqk,bkhd->bqhd", []int{2, 3, 5, 6}, []int{2, 6, 3, 4}},
		{"bsc,oc->bso", []int{2, 5, 4}, []int{3, 4}},
		{"ji,bjk->bik", []int{4, 5}, []int{2, 4, 3}},
	} {
		t.Run(tc.eq, func(t *testing.T) {
			checkGradients(t, backend, func(xs []*Node) *Node {
				return weightedSum(Einsum(tc.eq, xs[0], xs[1]))
			}, []*tensors.Tensor{randUniform[float64](rng, tc.lhs...), randUniform[float64](rng, tc.rhs...)}, 20)
		})
	}
	t.Run("multi-contracting", func(t *testing.T) {
		checkGradients(t, backend, func(xs []*Node) *Node {
			return weightedSum(DotGeneral(xs[0], []int{3, 1}, []int{0}, xs[1], []int{1, 2}, []int{0}))
		}, []*tensors.Tensor{randUniform[float64](rng, 2, 3, 5, 4), randUniform[float64](rng, 2, 4, 3, 6)}, 20)
	})
}

func TestNormSoftmaxGatherGradients(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(9, 10))
	const b, c, h, w, groups = 2, 6, 3, 4, 3
	x := randUniform[float64](rng, b, c, h, w)
	gain := randUniform[float64](rng, c)
	table := randUniform[float64](rng, 10, 4)
	ids := tensors.FromValue([][]int32{{3}, {0}, {7}, {3}})
	loss := func(xs []*Node) *Node {
		// Group norm over [c/groups, h, w] per group, then a per-channel gain.
		g := Reshape(xs[0], b, groups, c/groups, h, w)
		mean := ReduceAndKeep(g, ReduceMean, 2, 3, 4)
		centered := Sub(g, mean)
		variance := ReduceAndKeep(Square(centered), ReduceMean, 2, 3, 4)
		normed := Reshape(Div(centered, Sqrt(AddScalar(variance, 1e-5))), b, c, h, w)
		normed = Mul(normed, Reshape(xs[1], 1, c, 1, 1))
		sm := Softmax(Reshape(normed, b*c, h*w), -1)
		emb := Gather(xs[2], Const(xs[0].Graph(), ids))
		return Add(weightedSum(sm), weightedSum(Tanh(emb)))
	}
	checkGradients(t, backend, loss, []*tensors.Tensor{x, gain, table}, 20)
}

func TestSliceAndRsqrtGradients(t *testing.T) {
	backend := newGoBackend(t)
	rng := rand.New(rand.NewPCG(11, 12))
	x := randUniform[float64](rng, 4, 9)
	checkGradients(t, backend, func(xs []*Node) *Node {
		s := SliceAxis(xs[0], 1, AxisRange(1, 8).Stride(3)) // strided slice: gradient uses interior padding
		r := Rsqrt(AddScalar(Square(xs[0]), 1))
		return Add(weightedSum(s), weightedSum(r))
	}, []*tensors.Tensor{x}, 20)
}
