package backend

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTransposeInto compares transposeInto (merged axes, tiles) with a direct
// index computation for many shapes and permutations.
func TestTransposeInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, dims := range [][]int{{5}, {3, 7}, {40, 33}, {2, 3, 4, 5}, {6, 1, 9, 3}, {3, 3, 20, 70}, {2, 50, 4, 8}} {
		size := 1
		for _, d := range dims {
			size *= d
		}
		data := make([]float32, size)
		for i := range data {
			data[i] = float32(i)
		}
		for range 6 {
			perm := rng.Perm(len(dims))
			t.Run(fmt.Sprint(dims, perm), func(t *testing.T) {
				out := make([]float32, size)
				transposeInto(out, data, dims, perm)
				inStr := rowMajorStrides(dims)
				outDims := make([]int, len(perm))
				for i, a := range perm {
					outDims[i] = dims[a]
				}
				for o := range out {
					rem, src := o, 0
					for i := len(perm) - 1; i >= 0; i-- {
						src += (rem % outDims[i]) * inStr[perm[i]]
						rem /= outDims[i]
					}
					if out[o] != data[src] {
						t.Fatalf("out[%d] = %g, want %g", o, out[o], data[src])
					}
				}
			})
		}
	}
}
