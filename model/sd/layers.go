package sd

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// param returns the value of the variable name in ctx's scope, declaring it
// with the given dimensions. A loaded model already holds the variable (with
// ctx.Reuse() a missing one panics); a fresh context gets a declaration
// without a value, which is how ModelVariables lists a config's tensors
// without allocating them. A weight held in half precision (LoadOptions.Precision
// "stored") is widened to float32 here, where the graph reads it.
func param(ctx *context.Context, g *Graph, name string, dims ...int) *Node {
	if v := ctx.GetVariableByScopeAndName(ctx.Scope(), name); v != nil && v.Shape().DType != dtypes.Float32 {
		if want := shapes.Make(v.Shape().DType, dims...); !v.Shape().Equal(want) {
			panic(fmt.Sprintf("weight %s/%s is %s, the model calls for %s", ctx.Scope(), name, v.Shape(), want))
		}
		return ConvertDType(v.ValueGraph(g), dtypes.Float32)
	}
	return ctx.VariableWithShape(name, shapes.Make(dtypes.Float32, dims...)).ValueGraph(g)
}

// linear applies a PyTorch Linear (weight [out, in], optional bias [out]) to
// the last axis of x.
func linear(ctx *context.Context, x *Node, in, out int, bias bool) *Node {
	g := x.Graph()
	w := param(ctx, g, "weight", out, in)
	y := DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
	if bias {
		y = Add(y, ExpandLeftToRank(param(ctx, g, "bias", out), y.Rank()))
	}
	return y
}

// conv2d applies a PyTorch Conv2d (weight [out, in, k, k], bias [out]) to an
// NCHW input with symmetric padding k/2 and the given stride.
func conv2d(ctx *context.Context, x *Node, in, out, k, stride int) *Node {
	p := k / 2
	return conv2dPad(ctx, x, in, out, k, stride, [][2]int{{p, p}, {p, p}})
}

// conv2dPad is conv2d with explicit (low, high) padding per spatial axis.
//
// In a graph the context marks as training (ctx.SetTraining) a frozen
// half-precision kernel (LoadOptions.Precision "stored", not trainable) is
// widened again in the backward pass for the gradient with respect to x,
// the one GoMLX derives for the convolution, and the kernel gets no
// gradient. Otherwise the float32 widening param makes in the forward pass
// (which the convolution itself does not run: the backend reads the half
// kernel as stored) would be computed there and kept until the backward
// pass: for SD 1.5 at 512 px about 2 GB of float32 kernels live at once.
func conv2dPad(ctx *context.Context, x *Node, in, out, k, stride int, pad [][2]int) *Node {
	g := x.Graph()
	axes := ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 0, KernelInputChannels: 1, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	conv := func(x *Node) *Node {
		w := param(ctx, g, "weight", out, in, k, k)
		// Strides must be explicit: the pure-Go backend rejects a zero stride.
		return Convolve(x, w).AxesConfig(axes).Strides(stride).PaddingPerDim(pad).Done()
	}
	y := conv(x)
	if v := ctx.GetVariableByScopeAndName(ctx.Scope(), "weight"); v != nil && v.Shape().DType != dtypes.Float32 &&
		!v.Trainable && ctx.IsTraining(g) {
		y = withGradient(y, []*Node{x}, func(dOut *Node) []*Node {
			fresh := conv(x) // a new widening of the kernel, built (so run) in the backward pass
			return VJPRegistration[NodeTypeConvGeneral](fresh, []*Node{dOut}, shapes.Make(dOut.DType()))[:1]
		})
	}
	b := param(ctx, g, "bias", out)
	return Add(y, Reshape(b, 1, out, 1, 1))
}

// groupNorm normalises an NCHW (or [B, C, ...]) input over groups of channels
// and the spatial axes, then applies the per-channel weight and bias.
func groupNorm(ctx *context.Context, x *Node, channels, groups int, eps float64) *Node {
	g := x.Graph()
	dims := x.Shape().Dimensions
	b := dims[0]
	grouped := Reshape(x, b, groups, -1)
	mean := ReduceAndKeep(grouped, ReduceMean, -1)
	centred := Sub(grouped, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1)
	// 1/Sqrt rather than Rsqrt: the pure-Go backend has no Rsqrt gradient.
	normed := Div(centred, Sqrt(AddScalar(variance, eps)))
	normed = Reshape(normed, dims...)
	bcast := make([]int, len(dims))
	for i := range bcast {
		bcast[i] = 1
	}
	bcast[1] = channels
	w := Reshape(param(ctx, g, "weight", channels), bcast...)
	bias := Reshape(param(ctx, g, "bias", channels), bcast...)
	return Add(Mul(normed, w), bias)
}

// layerNorm normalises the last axis of x (size dim) and applies weight and bias.
func layerNorm(ctx *context.Context, x *Node, dim int, eps float64) *Node {
	g := x.Graph()
	mean := ReduceAndKeep(x, ReduceMean, -1)
	centred := Sub(x, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1)
	normed := Div(centred, Sqrt(AddScalar(variance, eps)))
	w := ExpandLeftToRank(param(ctx, g, "weight", dim), x.Rank())
	b := ExpandLeftToRank(param(ctx, g, "bias", dim), x.Rank())
	return Add(Mul(normed, w), b)
}

// silu is x * sigmoid(x).
func silu(x *Node) *Node { return Mul(x, Sigmoid(x)) }

// geluExact is the erf form of GELU that torch.nn.functional.gelu computes.
func geluExact(x *Node) *Node {
	return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
}

// quickGELU is CLIP's x * sigmoid(1.702 x).
func quickGELU(x *Node) *Node { return Mul(x, Sigmoid(MulScalar(x, 1.702))) }

// attentionChunkElems bounds the size of one attention score tensor: longer
// query sequences are processed in chunks of queries (softmax rows are
// independent, so results do not change). SD 1.5 at 512x512 would otherwise
// hold [2, 8, 4096, 4096] scores (1 GiB) per attention layer; with 2^23
// (32 MiB) a chunk is 128 queries. simplego's buffer pools keep a buffer
// per size until a collection, so the chunk's tensors set how much the
// pools hold: with 2^25 a 512 px generation's steps settled at 4.13 GB of
// heap, above generation's memory limit, and the collector ran 3-4 times
// a step (docs/PERFORMANCE.md, "Attention chunks and the buffer pools").
var attentionChunkElems = 1 << 23

// softmax is graph.Softmax over the last axis with a hand-written gradient.
// The value is exp(x - max - log(sum(exp(x - max)))); the gradient,
// p * (g - sum(g * p)), needs only p. GoMLX's own differentiation of
// exp(x - max) / sum(...) keeps both the exponentials and p for the backward
// pass and spends five full-size passes on the division's gradient; on
// attention maps, the largest tensors of a step, that is most of the memory
// and the memory traffic. Exp's gradient supplies v = g * p at z; the custom
// gradient of the identity on z subtracts the row sums' share, p * sum(v).
func softmax(x *Node) *Node {
	rowMax := StopGradient(ReduceAndKeep(x, ReduceMax, -1))
	shifted := Sub(x, rowMax)
	logSum := StopGradient(Log(ReduceAndKeep(Exp(shifted), ReduceSum, -1)))
	var p *Node
	z := IdentityWithCustomGradient(Sub(shifted, logSum), func(_, v *Node) *Node {
		return Sub(v, Mul(p, ReduceAndKeep(v, ReduceSum, -1)))
	})
	p = Exp(z)
	return p
}

// multiHeadAttention computes softmax(q k^T / sqrt(d)) v for q [B, Lq, H*d],
// k and v [B, Lk, H*d] with heads heads; mask, if not nil, is added to the
// scores ([Lq, Lk], broadcast). It returns [B, Lq, H*d].
func multiHeadAttention(q, k, v *Node, heads int, mask *Node) *Node {
	b, lq, inner := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[2]
	lk := k.Shape().Dimensions[1]
	d := inner / heads
	k = Reshape(k, b, lk, heads, d)
	v = Reshape(v, b, lk, heads, d)
	chunk := max(1, attentionChunkElems/(b*heads*lk))
	if chunk >= lq {
		return attentionChunk(Reshape(q, b, lq, heads, d), k, v, mask)
	}
	var parts []*Node
	for start := 0; start < lq; start += chunk {
		end := min(start+chunk, lq)
		qc := Reshape(Slice(q, AxisRange(), AxisRange(start, end)), b, end-start, heads, d)
		var mc *Node
		if mask != nil {
			mc = Slice(mask, AxisRange(start, end))
		}
		parts = append(parts, attentionChunk(qc, k, v, mc))
	}
	return Concatenate(parts, 1)
}

// recomputedAttention is multiHeadAttention (same arguments, shapes and
// value) whose gradient keeps none of the score or probability tensors of
// the forward pass: the backward pass recomputes each query chunk's scores
// and probabilities from q and k, one chunk at a time, and takes the
// gradients with respect to q, k and v from them (the mask, a constant in
// every caller, gets none). Autodiff of multiHeadAttention keeps every
// chunk's probabilities [B, H, Lq, Lk] until its backward pass: for SD 1.5
// at 64x64 latents 537 MB per self-attention layer. The cost is one more
// q k^T product and softmax per chunk in the backward pass. Attention whose
// scores fit in one chunk (attentionChunkElems) is multiHeadAttention: its
// probabilities are small, recomputing them would cost time for little
// memory.
func recomputedAttention(q, k, v *Node, heads int, mask *Node) *Node {
	b, lq := q.Shape().Dimensions[0], q.Shape().Dimensions[1]
	lk := k.Shape().Dimensions[1]
	if b*heads*lq*lk <= attentionChunkElems {
		return multiHeadAttention(q, k, v, heads, mask)
	}
	return withGradient(multiHeadAttention(q, k, v, heads, mask), []*Node{q, k, v}, func(dOut *Node) []*Node {
		dq, dk, dv := attentionGradient(q, k, v, mask, dOut, heads)
		return []*Node{dq, dk, dv}
	})
}

// withGradient returns value, computed from inputs (float32, any shapes),
// with the gradient vjp builds instead of the one GoMLX derives through
// value's own ops: given the adjoint dOut of value (shaped like it), vjp
// returns the adjoint of each input (nil: zero). vjp runs when the gradient
// is built, so the nodes it creates run in the backward pass and what they
// read from the forward pass is only what vjp references; value's own ops
// keep nothing for the backward pass.
//
// GoMLX v0.26 has custom gradients only for one-input identities
// (IdentityWithCustomGradient), so the result is StopGradient(value) + c -
// StopGradient(c), exactly value: c is the first elements of an identity on
// the inputs flattened and concatenated (zero-padded to at least value's
// size), reshaped like value; the adjoint of the result reaches that
// identity through c, and its custom gradient hands vjp the adjoint and
// returns the inputs' adjoints concatenated. The forward pass pays one copy
// of the inputs and three passes over value's size.
func withGradient(value *Node, inputs []*Node, vjp func(dOut *Node) []*Node) *Node {
	g, dims, n := value.Graph(), value.Shape().Dimensions, value.Shape().Size()
	flat := make([]*Node, 0, len(inputs)+1)
	size := 0
	for _, x := range inputs {
		flat = append(flat, Reshape(x, -1))
		size += x.Shape().Size()
	}
	if size < n {
		flat = append(flat, Zeros(g, shapes.Make(value.DType(), n-size)))
	}
	packed := IdentityWithCustomGradient(Concatenate(flat, 0), func(_, adjoint *Node) *Node {
		grads := vjp(Reshape(Slice(adjoint, AxisRange(0, n)), dims...))
		parts := make([]*Node, len(flat))
		for i, f := range flat {
			if i < len(grads) && grads[i] != nil {
				parts[i] = Reshape(grads[i], -1)
			} else {
				parts[i] = ZerosLike(f)
			}
		}
		return Concatenate(parts, 0)
	})
	c := Reshape(Slice(packed, AxisRange(0, n)), dims...)
	return Add(StopGradient(value), Sub(c, StopGradient(c)))
}

// attentionGradient returns the gradients with respect to q [B, Lq, H*d], k
// and v [B, Lk, H*d] of the attention multiHeadAttention computes, given the
// gradient dOut [B, Lq, H*d] of its output. It recomputes the scores and
// probabilities in the forward pass's query chunks, with the same ops (so
// the same values), and differentiates each chunk as GoMLX differentiates
// attentionChunk with softmax's gradient: dS = P*dP - P*sum(P*dP).
func attentionGradient(q, k, v, mask, dOut *Node, heads int) (dq, dk, dv *Node) {
	b, lq, inner := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[2]
	lk := k.Shape().Dimensions[1]
	d := inner / heads
	scale := 1 / math.Sqrt(float64(d))
	k = Reshape(k, b, lk, heads, d)
	v = Reshape(v, b, lk, heads, d)
	chunk := max(1, attentionChunkElems/(b*heads*lk))
	var dqs []*Node
	for start := 0; start < lq; start += chunk {
		end := min(start+chunk, lq)
		qc := MulScalar(Reshape(Slice(q, AxisRange(), AxisRange(start, end)), b, end-start, heads, d), scale)
		scores := Einsum("bqhd,bkhd->bhqk", qc, k)
		if mask != nil {
			scores = Add(scores, ExpandLeftToRank(Slice(mask, AxisRange(start, end)), 4))
		}
		p := softmax(scores)
		g := Reshape(Slice(dOut, AxisRange(), AxisRange(start, end)), b, end-start, heads, d)
		pdp := Mul(Einsum("bqhd,bkhd->bhqk", g, v), p)
		ds := Sub(pdp, Mul(p, ReduceAndKeep(pdp, ReduceSum, -1)))
		dqs = append(dqs, Reshape(MulScalar(Einsum("bhqk,bkhd->bqhd", ds, k), scale), b, end-start, inner))
		dkc := Einsum("bhqk,bqhd->bkhd", ds, qc)
		dvc := Einsum("bhqk,bqhd->bkhd", p, g)
		if dk == nil {
			dk, dv = dkc, dvc
		} else {
			dk, dv = Add(dk, dkc), Add(dv, dvc)
		}
	}
	return Concatenate(dqs, 1), Reshape(dk, b, lk, inner), Reshape(dv, b, lk, inner)
}

// attentionChunk is the attention of queries q [B, Lq, H, d] over k and v
// [B, Lk, H, d]; it returns [B, Lq, H*d].
func attentionChunk(q, k, v, mask *Node) *Node {
	dims := q.Shape().Dimensions
	b, lq, heads, d := dims[0], dims[1], dims[2], dims[3]
	// Scaling q instead of the scores touches Lk/d times fewer values, in the
	// forward pass and in the gradient.
	q = MulScalar(q, 1/math.Sqrt(float64(d)))
	scores := Einsum("bqhd,bkhd->bhqk", q, k)
	if mask != nil {
		scores = Add(scores, ExpandLeftToRank(mask, 4))
	}
	probs := softmax(scores)
	out := Einsum("bhqk,bkhd->bqhd", probs, v)
	return Reshape(out, b, lq, heads*d)
}
