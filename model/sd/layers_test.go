package sd

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestSoftmax checks softmax and its hand-written gradient against a direct
// float64 computation, on rows with large offsets (the max subtraction).
func TestSoftmax(t *testing.T) {
	const rows, n = 6, 9
	rng := rand.New(rand.NewPCG(8, 9))
	x, w := make([]float32, rows*n), make([]float32, rows*n)
	for i := range x {
		x[i] = float32(rng.NormFloat64()*3 + float64(i/n)*40)
		w[i] = float32(rng.NormFloat64())
	}
	exec, err := NewExec(fixtureBackend(t), func(x, w *Node) []*Node {
		p := softmax(x)
		return []*Node{p, Gradient(ReduceAllSum(Mul(p, w)), x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, 2, rows/2, n), tensors.FromFlatDataAndDimensions(w, 2, rows/2, n))
	if err != nil {
		t.Fatal(err)
	}
	p, g := tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])
	for r := range rows {
		row := x[r*n : (r+1)*n]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var sum, dot float64
		for _, v := range row {
			sum += math.Exp(float64(v) - m)
		}
		for i, v := range row {
			dot += math.Exp(float64(v)-m) / sum * float64(w[r*n+i])
		}
		for i, v := range row {
			wantP := math.Exp(float64(v)-m) / sum
			wantG := wantP * (float64(w[r*n+i]) - dot)
			if math.Abs(float64(p[r*n+i])-wantP) > 1e-6 || math.Abs(float64(g[r*n+i])-wantG) > 1e-6 {
				t.Fatalf("row %d, %d: softmax %g, gradient %g; want %g, %g", r, i, p[r*n+i], g[r*n+i], wantP, wantG)
			}
		}
	}
}

// TestRecomputedAttention checks recomputedAttention against
// multiHeadAttention, whose gradient GoMLX derives (and the parity tests
// check against diffusers): the same output bit for bit, and the same
// gradients with respect to q, k and v within float32 rounding, for
// self- and cross-attention, with and without a mask, over chunk counts
// that divide the queries and that leave a short last chunk.
func TestRecomputedAttention(t *testing.T) {
	for _, c := range []struct {
		name                string
		b, lq, lk, heads, d int
		mask                bool
		chunk               int // queries per chunk
	}{
		{"self 2 chunks", 1, 16, 16, 2, 4, false, 8},
		{"self 4 chunks", 1, 16, 16, 2, 4, false, 4},
		{"self 3 chunks, short last", 2, 14, 14, 3, 5, false, 5},
		{"self masked 16 chunks", 1, 16, 16, 2, 4, true, 1},
		{"cross masked 3 chunks", 2, 12, 7, 2, 8, true, 4},
		{"cross 2 chunks, short last", 1, 9, 5, 4, 2, false, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer func(old int) { attentionChunkElems = old }(attentionChunkElems)
			attentionChunkElems = c.chunk * c.b * c.heads * c.lk
			rng := rand.New(rand.NewPCG(uint64(c.lq), uint64(c.chunk)))
			randn := func(n int, scale float64) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64() * scale)
				}
				return x
			}
			inner := c.heads * c.d
			q := tensors.FromFlatDataAndDimensions(randn(c.b*c.lq*inner, 2), c.b, c.lq, inner)
			k := tensors.FromFlatDataAndDimensions(randn(c.b*c.lk*inner, 2), c.b, c.lk, inner)
			v := tensors.FromFlatDataAndDimensions(randn(c.b*c.lk*inner, 1), c.b, c.lk, inner)
			w := tensors.FromFlatDataAndDimensions(randn(c.b*c.lq*inner, 1), c.b, c.lq, inner)
			mask := make([]float32, c.lq*c.lk)
			if c.mask {
				for i := range c.lq {
					for j := range c.lk {
						if j > i*c.lk/c.lq { // causal-like, every row keeps column 0
							mask[i*c.lk+j] = float32(math.Inf(-1))
						}
					}
				}
			}
			m := tensors.FromFlatDataAndDimensions(mask, c.lq, c.lk)
			results := make([][][]float32, 2)
			for i, attend := range []func(q, k, v *Node, heads int, mask *Node) *Node{multiHeadAttention, recomputedAttention} {
				exec, err := NewExec(fixtureBackend(t), func(q, k, v, w, m *Node) []*Node {
					if !c.mask {
						m = nil
					}
					out := attend(q, k, v, c.heads, m)
					return append([]*Node{out}, Gradient(ReduceAllSum(Mul(out, w)), q, k, v)...)
				})
				if err != nil {
					t.Fatal(err)
				}
				outs, err := exec.Exec(q, k, v, w, m)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range outs {
					results[i] = append(results[i], tensors.MustCopyFlatData[float32](o))
				}
			}
			for j, name := range []string{"output", "dq", "dk", "dv"} {
				want, got := results[0][j], results[1][j]
				var scale float64
				for _, x := range want {
					scale = math.Max(scale, math.Abs(float64(x)))
				}
				tol := 1e-6 * scale
				if j == 0 {
					tol = 0 // the forward pass is multiHeadAttention's
				}
				for i := range want {
					if d := math.Abs(float64(got[i] - want[i])); !(d <= tol) {
						t.Fatalf("%s[%d] = %g, want %g (difference %g, tolerance %g)", name, i, got[i], want[i], d, tol)
					}
				}
			}
		})
	}
}

// TestConvWidenedInBackward checks that a training graph's convolution with
// a frozen float16 kernel (sd-tiny's fp16 UNet kept as stored), whose
// gradient widens the kernel again in the backward pass, gives the output
// and the gradient with respect to its input of the graph GoMLX
// differentiates (not training), bit for bit: stride 1 and 2, 1x1 and 3x3
// kernels, more output than input channels and fewer.
func TestConvWidenedInBackward(t *testing.T) {
	m := tinyModel(t, "fp16-stored")
	for _, c := range []struct {
		scope              string
		in, out, k, stride int
		size               int // input height and width
	}{
		{"conv_in", 4, 32, 3, 1, 9},
		{"down_blocks/0/resnets/0/conv1", 32, 32, 3, 1, 8},
		{"down_blocks/0/downsamplers/0/conv", 32, 32, 3, 2, 7},
		{"down_blocks/2/resnets/0/conv1", 32, 64, 3, 1, 5},
		{"down_blocks/2/resnets/0/conv_shortcut", 32, 64, 1, 1, 6},
		{"conv_out", 32, 4, 3, 1, 8},
	} {
		t.Run(c.scope, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(c.in), uint64(c.size)))
			n := 2 * c.in * c.size * c.size
			xs, ws := make([]float32, n), make([]float32, 2*c.out*c.size*c.size)
			for i := range xs {
				xs[i] = float32(rng.NormFloat64())
			}
			for i := range ws {
				ws[i] = float32(rng.NormFloat64())
			}
			x := tensors.FromFlatDataAndDimensions(xs, 2, c.in, c.size, c.size)
			var results [2][]*tensors.Tensor
			for i, training := range []bool{false, true} {
				ctx := m.Ctx.Reuse()
				for _, s := range append([]string{unetScope}, strings.Split(c.scope, "/")...) {
					ctx = ctx.In(s)
				}
				if v := ctx.GetVariableByScopeAndName(ctx.Scope(), "weight"); v == nil || v.Shape().DType != dtypes.Float16 {
					t.Fatalf("%s/weight is not a float16 variable", c.scope)
				}
				outs, err := context.ExecOnceN(fixtureBackend(t), ctx, func(ctx *context.Context, x *Node) []*Node {
					ctx.SetTraining(x.Graph(), training)
					p := c.k / 2
					y := conv2dPad(ctx, x, c.in, c.out, c.k, c.stride, [][2]int{{p, p}, {p, p}})
					w := Const(x.Graph(), ws[:y.Shape().Size()])
					return []*Node{y, Gradient(ReduceAllSum(Mul(Reshape(y, -1), w)), x)[0]}
				}, x)
				if err != nil {
					t.Fatalf("training %v: %v", training, err)
				}
				results[i] = outs
			}
			for j, name := range []string{"output", "input gradient"} {
				want, got := tensors.MustCopyFlatData[float32](results[0][j]), tensors.MustCopyFlatData[float32](results[1][j])
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s[%d] = %g in training, %g otherwise", name, i, got[i], want[i])
					}
				}
			}
		})
	}
}
