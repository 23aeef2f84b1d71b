// Package gpucheck holds the GPU checks' own benchmark; run.sh (beside it)
// runs it with the other prebuilt test binaries on a GPU machine.
package gpucheck

import (
	"context"
	"os"
	"testing"
	"time"

	"kata/model/backend"
	"kata/model/sd"
)

// BenchmarkSD15Generate times text-to-image of an SD 1.5-size model (random
// weights, sd.NewRandom) at 512x512 (64x64 latents) with classifier-free
// guidance 7.5 and 20 steps, on the backend KATA_BACKEND selects:
//
//	KATA_BACKEND=xla:cuda KATA_BENCH_SD15=1 gpucheck.test -test.run '^$' -test.bench SD15Generate -test.benchtime 1x
//
// A first image compiles the graphs (first-image-s); the second is timed:
// image-s (the whole image, text encoding and VAE decoding included) and
// unet-step-ms (the mean time between sampler steps 2..20: one UNet step
// with CFG). It is skipped unless KATA_BENCH_SD15=1 (about 4 GB of weights;
// minutes per image on the pure-Go backend).
func BenchmarkSD15Generate(b *testing.B) {
	if os.Getenv("KATA_BENCH_SD15") != "1" {
		b.Skip("set KATA_BENCH_SD15=1 to run (SD 1.5 size)")
	}
	be, sel, err := backend.Open("")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("backend: %s", sel)
	m, err := sd.NewRandom(sd.SD15TextConfig(), sd.SD15UNetConfig(), sd.SD15VAEConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Finalize()
	var stepAt []time.Time
	opts := sd.GenerateOptions{Prompt: "a photo of a person doing a handstand", Steps: 20, CFG: 7.5, Width: 512, Height: 512, Seed: 1,
		OnStep: func(step, total int, _ []float32) { stepAt = append(stepAt, time.Now()) }}
	start := time.Now()
	if _, err := p.Generate(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(time.Since(start).Seconds(), "first-image-s")
	b.ResetTimer()
	for range b.N {
		stepAt = stepAt[:0]
		start := time.Now()
		if _, err := p.Generate(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "image-s")
		if n := len(stepAt); n >= 2 {
			b.ReportMetric(float64(stepAt[n-1].Sub(stepAt[0]).Milliseconds())/float64(n-1), "unet-step-ms")
		}
	}
}
