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

// BenchmarkPack reports the packing throughput (bytes of packed output) of one
// KC x NC block of B and of the A panels of 2040 x KC rows, from row-major and
// column-major operands 2048 wide, for the AVX-512 (12 x 32) and AVX2 (6 x 16)
// tiles.
func BenchmarkPack(b *testing.B) {
	src := make([]float32, 2048*2048)
	for _, tile := range [][2]int{{12, 32}, {6, 16}} {
		mr, nr := tile[0], tile[1]
		for _, colMajor := range []bool{false, true} {
			m, layout := RowMajor(src, 0, 2048), "row-major"
			if colMajor {
				m, layout = m.T(), "col-major"
			}
			b.Run(fmt.Sprintf("B/%dx%d/%s", mr, nr, layout), func(b *testing.B) {
				dst := make([]float32, blockK*blockN)
				for b.Loop() {
					packB(dst, m, 0, 0, blockK, blockN, nr)
				}
				b.SetBytes(4 * blockK * blockN)
			})
			b.Run(fmt.Sprintf("A/%dx%d/%s", mr, nr, layout), func(b *testing.B) {
				dst := make([]float32, blockK*mr)
				for b.Loop() {
					for i0 := 0; i0+mr <= 2040; i0 += mr {
						packA(dst, m, i0, 0, mr, blockK, mr)
					}
				}
				b.SetBytes(4 * 2040 / int64(mr) * int64(mr) * blockK)
			})
		}
	}
}
