package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"kata/model/safetensors"
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
// tiles, from float32 operands and from float16 and bfloat16 ones (widened
// while packing).
func BenchmarkPack(b *testing.B) {
	src := make([]float32, 2048*2048)
	bits := make([]uint16, 2048*2048)
	line := make([]float32, blockK)
	for _, tile := range [][2]int{{12, 32}, {6, 16}} {
		mr, nr := tile[0], tile[1]
		for _, f := range []Format{Float32, Float16, BFloat16} {
			for _, colMajor := range []bool{false, true} {
				m, layout := RowMajor(src, 0, 2048), "row-major"
				if f != Float32 {
					m = HalfMatrix(bits, f, 0, 2048, 1)
				}
				if colMajor {
					m, layout = m.T(), "col-major"
				}
				b.Run(fmt.Sprintf("B/%dx%d/%s/%s", mr, nr, f, layout), func(b *testing.B) {
					dst := make([]float32, blockK*blockN)
					for b.Loop() {
						if f == Float32 {
							packB(dst, m, 0, 0, blockK, blockN, nr)
						} else {
							packBHalf(dst, line, m, 0, 0, blockK, blockN, nr)
						}
					}
					b.SetBytes(4 * blockK * blockN)
				})
				b.Run(fmt.Sprintf("A/%dx%d/%s/%s", mr, nr, f, layout), func(b *testing.B) {
					dst := make([]float32, blockK*mr)
					for b.Loop() {
						for i0 := 0; i0+mr <= 2040; i0 += mr {
							if f == Float32 {
								packA(dst, m, i0, 0, mr, blockK, mr)
							} else {
								packAHalf(dst, line, m, i0, 0, mr, blockK, mr)
							}
						}
					}
					b.SetBytes(4 * 2040 / int64(mr) * int64(mr) * blockK)
				})
			}
		}
	}
}

// widenFirst is the previous executors' path for a half-precision weight:
// widen all of it into a float32 scratch buffer on all cores, then multiply
// the float32 view (same offset and strides).
func widenFirst(dst []float32, w Matrix) Matrix {
	workers := runtime.GOMAXPROCS(0)
	per := (len(w.Half) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(w.Half); lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			if w.Format == Float16 {
				safetensors.HalfToFloat32(dst[lo:hi], w.Half[lo:hi])
				return
			}
			for i, h := range w.Half[lo:hi] {
				dst[lo+i] = math.Float32frombits(uint32(h) << 16)
			}
		}(lo, min(lo+per, len(w.Half)))
	}
	wg.Wait()
	return Matrix{Data: dst, Offset: w.Offset, RowStride: w.RowStride, ColStride: w.ColStride}
}

// BenchmarkMultiplyHalf reports GFLOP/s of SD 1.5's linear layers (m tokens,
// k inputs, n outputs, the weight stored [n, k] as model/sd reads it) with the
// weight in float32 ("f32"), in float16/bfloat16 widened by the packing
// ("packed"), and widened first into a float32 buffer ("widen-first", the
// previous executors' path), side by side. The weight is B (y = x W^T) or A
// (y^T = W x^T).
func BenchmarkMultiplyHalf(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, sz := range [][3]int{{4096, 320, 1280}, {1024, 640, 2560}, {77, 768, 320}} {
		m, k, n := sz[0], sz[1], sz[2]
		x := RowMajor(randSlice(rng, m*k), 0, k)
		wf := RowMajor(randSlice(rng, n*k), 0, k)
		bits := map[Format][]uint16{Float16: make([]uint16, n*k), BFloat16: make([]uint16, n*k)}
		for i, v := range wf.Data {
			bits[Float16][i] = safetensors.Float32ToFloat16(v)
			bits[BFloat16][i] = safetensors.Float32ToBFloat16(v)
		}
		scratch := make([]float32, n*k)
		for _, role := range []string{"B", "A"} {
			// mul multiplies with weight w ([n, k] row-major) in the given role.
			mul := func(w Matrix, out []float32) error {
				if role == "B" {
					return Multiply(m, n, k, x, w.T(), RowMajor(out, 0, n))
				}
				return Multiply(n, m, k, w, x.T(), RowMajor(out, 0, m))
			}
			out := make([]float32, m*n)
			run := func(name string, step func() error) {
				b.Run(fmt.Sprintf("%dx%dx%d/W=%s/%s", m, k, n, role, name), func(b *testing.B) {
					for b.Loop() {
						if err := step(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			run("f32", func() error { return mul(wf, out) })
			for _, f := range []Format{Float16, BFloat16} {
				wh := HalfMatrix(bits[f], f, 0, k, 1)
				run(f.String()+"/packed", func() error { return mul(wh, out) })
				run(f.String()+"/widen-first", func() error { return mul(widenFirst(scratch, wh), out) })
			}
		}
	}
}

// BenchmarkPackAll times products whose B spans several column blocks with
// A's panels packed once per contraction slice (the default) and once per
// column block (packAllMax 0), alternating in one run: float16 A (float32 A
// is always packed per block; its rows time the same path twice) at SD 1.5
// and Kata World shapes (m x n x k: conv kernels as A of
// C^T = W^T X^T, rows the output channels). x-per-block above 1 means packing
// once is faster.
func BenchmarkPackAll(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	shapes := [][3]int{{320, 2048, 2880}, {1280, 1024, 11520}, {128, 8192, 1152}, {32, 8192, 288}}
	for _, sz := range shapes {
		for _, f := range []Format{Float32, Float16} {
			m, n, k := sz[0], sz[1], sz[2]
			b.Run(fmt.Sprintf("%dx%dx%d/%s", m, n, k, f), func(b *testing.B) {
				a := RowMajor(randSlice(rng, m*k), 0, k)
				if f == Float16 {
					a, _ = halfView(rng, Float16, m, k, false)
				}
				bb, c := RowMajor(randSlice(rng, k*n), 0, n), RowMajor(make([]float32, m*n), 0, n)
				run := func(limit int) time.Duration {
					defer func(v int) { packAllMax = v }(packAllMax)
					packAllMax = limit
					t0 := time.Now()
					if err := Multiply(m, n, k, a, bb, c); err != nil {
						b.Fatal(err)
					}
					return time.Since(t0)
				}
				var once, per time.Duration
				for b.Loop() {
					once += run(1 << 20)
					per += run(0)
				}
				flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
				b.ReportMetric(flops/once.Seconds()/1e9, "GFLOP/s-once")
				b.ReportMetric(flops/per.Seconds()/1e9, "GFLOP/s-per-block")
				b.ReportMetric(per.Seconds()/once.Seconds(), "x-per-block")
			})
		}
	}
}
