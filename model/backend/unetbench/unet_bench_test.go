package unetbench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/backend"
	"kata/model/sd"
)

func randTensor(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// unetStep builds the UNet on random weights and benchmarks forward only or
// forward plus the gradient w.r.t. the text encoder states (the path a
// textual-inversion/ADI step takes; the UNet weights are frozen). stockRuns > 0
// also times GoMLX's stock executors in the same run.
func unetStep(b *testing.B, cfg *sd.UNetConfig, batch, size, tokens int, backward bool, stockRuns int) {
	be, err := backend.New("go")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.New()
	sd.SetConfigs(ctx, sd.SD15TextConfig(), cfg, sd.SD15VAEConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	latents := randTensor(rng, batch, cfg.InChannels, size, size)
	states := randTensor(rng, batch, tokens, cfg.CrossAttentionDim)
	steps := tensors.FromValue([]int32{500})
	if batch > 1 {
		steps = tensors.FromFlatDataAndDimensions(make([]int32, batch), batch)
	}
	exec, err := context.NewExec(be, ctx, func(ctx *context.Context, latents, steps, states *Node) []*Node {
		pred := sd.UNet(ctx, latents, steps, []*Node{states})
		loss := ReduceAllMean(Square(pred))
		if !backward {
			return []*Node{loss}
		}
		return []*Node{loss, Gradient(loss, states)[0]}
	})
	if err != nil {
		b.Fatal(err)
	}
	run := func() {
		outs, err := exec.Exec(latents, steps, states)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	run() // compile, initialise variables
	if os.Getenv("KATA_BENCH_STOCK") == "0" {
		stockRuns = 0 // for profiling Kata's path alone
	}
	var stock float64
	if stockRuns > 0 {
		prev := backend.UseKernels(false)
		start := time.Now()
		for range stockRuns {
			run()
		}
		stock = time.Since(start).Seconds() / float64(stockRuns)
		backend.UseKernels(prev)
		run()
	}
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	kata := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(kata, "s/step")
	if stockRuns > 0 {
		b.ReportMetric(stock, "stock-s/step")
		b.ReportMetric(stock/kata, "x-vs-stock")
	}
}

func tinyConfig(b *testing.B) *sd.UNetConfig {
	data, err := os.ReadFile("testdata/sd-tiny-unet-config.json")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := sd.ParseUNetConfig(data)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// BenchmarkTinyUNet (like every benchmark here; KATA_BENCH_STOCK=0 skips the stock
// timing, e.g. for profiling) runs the sd-tiny UNet (channels 32/64, the parity fixture's
// topology) on 2 x 4 x 32 x 32 latents with 77 tokens.
func BenchmarkTinyUNet(b *testing.B) {
	cfg := tinyConfig(b)
	b.Run("forward", func(b *testing.B) { unetStep(b, cfg, 2, 32, 77, false, 1) })
	b.Run("forward+backward", func(b *testing.B) { unetStep(b, cfg, 2, 32, 77, true, 1) })
}

// BenchmarkSD15UNet runs one SD 1.5-size UNet step (random weights, batch 1,
// 64 x 64 latents = 512 px, 77 tokens), forward and forward plus the gradient
// w.r.t. the text states, each also on GoMLX's stock executors. It needs about
// 11 GB of memory: it runs when the machine has 20 GB or KATA_BENCH_SD15=1,
// and never with KATA_BENCH_SD15=0. The stock steps take most of an hour on a
// 2-core machine (15 minutes forward, 31 forward + backward);
// KATA_BENCH_SD15_STOCK=0 times Kata's alone.
func BenchmarkSD15UNet(b *testing.B) {
	switch os.Getenv("KATA_BENCH_SD15") {
	case "0":
		b.Skip("KATA_BENCH_SD15=0")
	case "1":
	default:
		if gb := memTotalGB(); gb < 20 {
			b.Skipf("%.0f GB of memory; the SD 1.5 step needs about 11 GB (KATA_BENCH_SD15=1 runs it anyway)", gb)
		}
	}
	stock := 1
	if os.Getenv("KATA_BENCH_SD15_STOCK") == "0" {
		stock = 0
	}
	b.Run("forward", func(b *testing.B) { unetStep(b, sd.SD15UNetConfig(), 1, 64, 77, false, stock) })
	b.Run("forward+backward", func(b *testing.B) { unetStep(b, sd.SD15UNetConfig(), 1, 64, 77, true, stock) })
}

// memTotalGB reads MemTotal from /proc/meminfo (0 where there is none).
func memTotalGB() float64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb float64
			fmt.Sscan(rest, &kb)
			return kb / (1 << 20)
		}
	}
	return 0
}
