package sd

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
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
