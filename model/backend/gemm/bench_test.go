package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkMultiply reports GFLOP/s of C = A·B (row-major, square) for each kernel.
func BenchmarkMultiply(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, name := range Available() {
		for _, n := range []int{512, 1024, 2048} {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				prev, _ := Use(name)
				defer Use(prev)
				a, bb, c := RowMajor(randSlice(rng, n*n), 0, n), RowMajor(randSlice(rng, n*n), 0, n), RowMajor(make([]float32, n*n), 0, n)
				b.ResetTimer()
				for b.Loop() {
					if err := Multiply(n, n, n, a, bb, c); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(2*float64(n)*float64(n)*float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
