package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestUnbroadcast(t *testing.T) {
	be, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	f32 := func(dims ...int) shapes.Shape { return shapes.Make(dtypes.Float32, dims...) }
	cases := []struct {
		name            string
		small, full     shapes.Shape
		axes            []int
		otherFull       bool // the other operand has the full shape
		wantUnbroadcast bool
	}{
		{"row denominators", f32(2, 3, 1), f32(2, 3, 4), []int{0, 1, 2}, true, true},
		{"middle axis", f32(2, 1, 4), f32(2, 3, 4), []int{0, 1, 2}, true, true},
		{"rank grows", f32(3), f32(2, 3), []int{1}, true, false},
		{"other operand also small", f32(2, 1), f32(2, 3), []int{0, 1}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := be.Builder(c.name)
			small, err := b.Parameter("small", c.small, nil)
			if err != nil {
				t.Fatal(err)
			}
			otherShape := c.full
			if !c.otherFull {
				otherShape = c.small
			}
			other, err := b.Parameter("other", otherShape, nil)
			if err != nil {
				t.Fatal(err)
			}
			bc, err := b.BroadcastInDim(small, c.full, c.axes)
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range []func(x, y backends.Op) (backends.Op, error){b.Add, b.Sub, b.Mul, b.Div} {
				out, err := op(other, bc)
				if err != nil {
					if !c.otherFull {
						continue // shapes simplego rejects stay rejected
					}
					t.Fatal(err)
				}
				m := mirror(out.(*simplego.Node))
				got := m.inputs[1] == small.(*simplego.Node)
				if got != c.wantUnbroadcast {
					t.Errorf("operand read directly: %v, want %v", got, c.wantUnbroadcast)
				}
				if c.otherFull && !m.shape.Equal(c.full) {
					t.Errorf("output shape %s, want %s", m.shape, c.full)
				}
			}
		})
	}
}

// TestUnbroadcastValues checks softmax and its gradient (the ops GoMLX
// broadcasts explicitly) against a direct computation.
func TestUnbroadcastValues(t *testing.T) {
	be, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	x, w := randF32(rng, 2, 5, 7), randF32(rng, 2, 5, 7)
	exec, err := NewExec(be, func(x, w *Node) []*Node {
		p := Softmax(x, -1)
		return []*Node{p, Gradient(ReduceAllSum(Mul(p, w)), x)[0]}
	})
	if err != nil {
		t.Fatal(err)
	}
	outs, err := exec.Exec(x, w)
	if err != nil {
		t.Fatal(err)
	}
	xs, ws := tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](w)
	p, g := tensors.MustCopyFlatData[float32](outs[0]), tensors.MustCopyFlatData[float32](outs[1])
	for row := 0; row < len(xs); row += 7 {
		var sum, dot float64
		e := make([]float64, 7)
		for i := range 7 {
			e[i] = math.Exp(float64(xs[row+i]))
			sum += e[i]
		}
		for i := range 7 {
			dot += e[i] / sum * float64(ws[row+i])
		}
		for i := range 7 {
			wantP := e[i] / sum
			wantG := wantP * (float64(ws[row+i]) - dot) // softmax VJP: p * (w - <p, w>)
			if math.Abs(float64(p[row+i])-wantP) > 1e-6 || math.Abs(float64(g[row+i])-wantG) > 1e-6 {
				t.Fatalf("row %d, %d: softmax %g, gradient %g; want %g, %g", row/7, i, p[row+i], g[row+i], wantP, wantG)
			}
		}
	}
}
