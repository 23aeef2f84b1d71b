package backend

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/backend/gemm"
)

// benchAgainstStock times fn with Kata's kernels and with GoMLX's stock
// executors (timeAgainstStock) and reports GFLOP/s for both and the speed-up.
func benchAgainstStock(b *testing.B, backend backends.Backend, flops float64, stockRuns int,
	fn func(xs []*Node) []*Node, inputs ...*tensors.Tensor) (gflops float64) {
	kata, stock := timeAgainstStock(b, backend, stockRuns, fn, inputs...)
	b.ReportMetric(flops/kata/1e9, "GFLOP/s")
	b.ReportMetric(flops/stock/1e9, "stock-GFLOP/s")
	b.ReportMetric(stock/kata, "x-vs-stock")
	return flops / kata / 1e9
}

// timeAgainstStock times fn with Kata's kernels (the benchmark loop) and, in
// the same run, with GoMLX's stock executors (stockRuns runs, outside the
// timer), and returns the seconds per run of both.
func timeAgainstStock(b *testing.B, backend backends.Backend, stockRuns int,
	fn func(xs []*Node) []*Node, inputs ...*tensors.Tensor) (kata, stock float64) {
	exec, err := NewExec(backend, fn)
	if err != nil {
		b.Fatal(err)
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	run := func() {
		outs, err := exec.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	restore := setKernels(false)
	run() // compile and warm up
	start := time.Now()
	for range stockRuns {
		run()
	}
	stock = time.Since(start).Seconds() / float64(stockRuns)
	restore()
	defer setKernels(true)()
	run()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	return b.Elapsed().Seconds() / float64(b.N), stock
}

// BenchmarkGEMM multiplies n x n float32 matrices through DotGeneral, once per
// available micro-kernel.
func BenchmarkGEMM(b *testing.B) {
	backend := newGoBackend(b)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, kernel := range gemm.Available() {
		if kernel == "go" {
			continue
		}
		for _, n := range []int{512, 1024, 2048} {
			b.Run(fmt.Sprintf("%s/%d", kernel, n), func(b *testing.B) {
				prev, _ := gemm.Use(kernel)
				defer gemm.Use(prev)
				stockRuns := max(1, 1024/n)
				// The FMA throughput of this instruction set on all cores, measured now
				// (the machine may be shared): the ceiling for the GEMM.
				peak := gemm.PeakGFLOPS(kernel, 300*time.Millisecond)
				gflops := benchAgainstStock(b, backend, 2*float64(n)*float64(n)*float64(n), stockRuns,
					func(xs []*Node) []*Node { return []*Node{Dot(xs[0], xs[1])} },
					randF32(rng, n, n), randF32(rng, n, n))
				b.ReportMetric(peak, "peak-GFLOP/s")
				b.ReportMetric(100*gflops/peak, "pct-of-peak")
			})
		}
	}
}

// unetConvs are NCHW convolutions (PyTorch layout, as model/sd builds them) of the
// shapes an SD UNet runs: 3x3 resnet convs, the stride-2 downsampler, 1x1 shortcuts.
var unetConvs = []convCase{
	{"sdtiny-3x3-c32-32x32", true, 1, 32, 32, 32, 32, 3, 1, 1, true},
	{"3x3-c64-64x64", true, 1, 64, 64, 64, 64, 3, 1, 1, true},
	{"sd15-3x3-c320-16x16", true, 1, 320, 320, 16, 16, 3, 1, 1, true},
	{"sd15-3x3-s2-c320-32x32", true, 1, 320, 320, 32, 32, 3, 2, 1, true},
	{"sd15-1x1-c640to320-16x16", true, 1, 640, 320, 16, 16, 1, 1, 1, false},
}

func (tc convCase) flops() float64 {
	oh, ow := (tc.h+tc.stride-1)/tc.stride, (tc.w+tc.stride-1)/tc.stride
	return 2 * float64(tc.batch*oh*ow) * float64(tc.cin*tc.kernel*tc.kernel) * float64(tc.cout)
}

// BenchmarkConv runs the forward convolution.
func BenchmarkConv(b *testing.B) {
	backend := newGoBackend(b)
	rng := rand.New(rand.NewPCG(2, 2))
	for _, tc := range unetConvs {
		b.Run(tc.name, func(b *testing.B) {
			benchAgainstStock(b, backend, tc.flops(), 1,
				func(xs []*Node) []*Node { return []*Node{tc.build(xs)} }, tc.inputs(rng)...)
		})
	}
}

// BenchmarkConvTrain runs forward plus the input and kernel gradients (3x the flops).
func BenchmarkConvTrain(b *testing.B) {
	backend := newGoBackend(b)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range []convCase{
		{"sdtiny-3x3-c32-32x32", true, 1, 32, 32, 32, 32, 3, 1, 1, true},
		{"sd15-3x3-c320-8x8", true, 1, 320, 320, 8, 8, 3, 1, 1, true},
		{"sd15-3x3-s2-c320-16x16", true, 1, 320, 320, 16, 16, 3, 2, 1, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			benchAgainstStock(b, backend, 3*tc.flops(), 1, func(xs []*Node) []*Node {
				y := tc.build(xs)
				return Gradient(ReduceAllSum(Mul(y, y)), xs...)
			}, tc.inputs(rng)...)
		})
	}
}

// worldConvs are Kata World's convolutions (batch 8, NCHW, 3x3): the UNet's
// four levels and a downsampling, the VAE's first levels (model/worldmodel).
var worldConvs = []convCase{
	{"unet-c32-16x16", true, 8, 32, 32, 16, 16, 3, 1, 1, true},
	{"unet-s2-c32-16x16", true, 8, 32, 32, 16, 16, 3, 2, 1, true},
	{"unet-c64-8x8", true, 8, 64, 64, 8, 8, 3, 1, 1, true},
	{"unet-c128-4x4", true, 8, 128, 128, 4, 4, 3, 1, 1, true},
	{"unet-c128-2x2", true, 8, 128, 128, 2, 2, 3, 1, 1, true},
	{"vae-c32-64x64", true, 8, 32, 32, 64, 64, 3, 1, 1, true},
	{"vae-s2-c32-64x64", true, 8, 32, 32, 64, 64, 3, 2, 1, true},
	{"vae-c64-32x32", true, 8, 64, 64, 32, 32, 3, 1, 1, true},
}

// BenchmarkWorldConv runs forward plus input and kernel gradients of Kata
// World's convolutions with the small-shape paths (new) and without them (old),
// one run of each per iteration, in alternating order, and reports both per run: wall
// milliseconds (valid on idle cores only) and process CPU milliseconds
// (user+sys), with the ratios old/new:
//
//	CGO_ENABLED=0 go test -run '^$' -bench WorldConv -benchtime 20x ./model/backend
func BenchmarkWorldConv(b *testing.B) {
	backend := newGoBackend(b)
	rng := rand.New(rand.NewPCG(4, 4))
	for _, tc := range worldConvs {
		b.Run(tc.name, func(b *testing.B) {
			exec, err := NewExec(backend, func(xs []*Node) []*Node {
				y := tc.build(xs)
				return append([]*Node{y}, Gradient(ReduceAllSum(Mul(y, y)), xs...)...)
			})
			if err != nil {
				b.Fatal(err)
			}
			args := []any{}
			for _, in := range tc.inputs(rng) {
				args = append(args, in)
			}
			run := func(old bool) (wall, cpu time.Duration) {
				prev := smallConvOff.Swap(old)
				defer smallConvOff.Store(prev)
				c0, t0 := processCPU(), time.Now()
				outs, err := exec.Exec(args...)
				if err != nil {
					b.Fatal(err)
				}
				for _, o := range outs {
					o.FinalizeAll()
				}
				return time.Since(t0), processCPU() - c0
			}
			run(true)
			run(false)
			var wall, cpu [2]time.Duration
			flip := 0
			for b.Loop() {
				// Alternate which runs first: the second of a pair pays for
				// the first's garbage.
				for j := range 2 {
					i := j ^ flip
					w, c := run(i == 0)
					wall[i] += w
					cpu[i] += c
				}
				flip ^= 1
			}
			ms := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(b.N) }
			b.ReportMetric(ms(wall[0]), "old-ms")
			b.ReportMetric(ms(wall[1]), "new-ms")
			b.ReportMetric(ms(cpu[0]), "old-cpu-ms")
			b.ReportMetric(ms(cpu[1]), "new-cpu-ms")
			b.ReportMetric(float64(wall[0])/float64(wall[1]), "x-wall")
			b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "x-cpu")
		})
	}
}

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkActivations runs Logistic and Erf on a 1M-element float32 tensor,
// Kata's executors against GoMLX's in one run (elements per second and the
// speed-up).
func BenchmarkActivations(b *testing.B) {
	backend := newGoBackend(b)
	// Uniform in [-8, 8]: both tails and the middle of each function.
	rng := rand.New(rand.NewPCG(4, 4))
	data := make([]float32, 1<<20)
	for i := range data {
		data[i] = float32(16*rng.Float64() - 8)
	}
	x := tensors.FromFlatDataAndDimensions(data, 1024, 1024)
	for _, tc := range []struct {
		name string
		op   func(*Node) *Node
	}{{"logistic", Sigmoid}, {"erf", Erf}} {
		b.Run(tc.name, func(b *testing.B) {
			kata, stock := timeAgainstStock(b, backend, 3, func(xs []*Node) []*Node {
				return []*Node{tc.op(xs[0])}
			}, x)
			n := float64(x.Shape().Size())
			b.ReportMetric(n/kata/1e6, "Melem/s")
			b.ReportMetric(n/stock/1e6, "stock-Melem/s")
			b.ReportMetric(stock/kata, "x-vs-stock")
		})
	}
}
