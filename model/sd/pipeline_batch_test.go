package sd

import (
	gocontext "context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"kata/model/backend"
)

// TestGenerateBatch checks that image i of a batch (split into executions
// run at once, the pure-Go default) is the image Generate makes alone with
// seeds[i] one execution at a time, for a stochastic sampler, a sampler with
// history, without guidance and with prompt and negative prompt of different
// lengths (two UNet passes per step): bit for bit on GoMLX's own executors,
// and within batchTolerance on Kata's kernels, whose GEMM picks its blocking
// by matrix shape, so a batch of 3 or more can round one sample's sums
// differently (1 ulp of the latents after one step, measured).
func TestGenerateBatch(t *testing.T) {
	p, err := NewPipeline(fixtureBackend(t), tinyModel(t, "diffusers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kernels := range []bool{false, true} {
		t.Run(fmt.Sprintf("kata kernels %v", kernels), func(t *testing.T) {
			defer backend.UseKernels(backend.UseKernels(kernels))
			checkBatch(t, p, kernels)
		})
	}
	for _, seeds := range [][]uint64{nil, make([]uint64, MaxBatch+1)} {
		if _, err := p.GenerateBatch(gocontext.Background(), GenerateOptions{Prompt: "a cat", Steps: 1}, seeds); err == nil {
			t.Errorf("%d seeds: no error", len(seeds))
		}
	}
	if _, err := p.GenerateBatch(gocontext.Background(), GenerateOptions{Prompt: "a cat", Steps: 1, InitNoise: make([]float32, 256)}, []uint64{1, 2}); err == nil {
		t.Error("init noise with two seeds: no error")
	}
}

// batchTolerance bounds |batch - alone| of latents on Kata's kernels.
const batchTolerance = 1e-4

// checkBatch generates three images as a batch and alone; tolerant accepts
// latents within batchTolerance, else they and the pixels must be equal.
// GoMLX's own executors are slow: they run the first case only.
func checkBatch(t *testing.T, p *Pipeline, tolerant bool) {
	long := strings.Repeat("a very long negative prompt ", 20)
	seeds := []uint64{7, 123456, 7}
	for _, tc := range []struct {
		name string
		opts GenerateOptions
	}{
		{"euler a guided", GenerateOptions{Prompt: "a red robot", Steps: 3, Sampler: "euler_a", CFG: 7.5}},
		{"dpm++ 2m unguided", GenerateOptions{Prompt: "a cat", Steps: 3, Sampler: "dpmpp_2m", CFG: 1}},
		{"separate negative", GenerateOptions{Prompt: "a bear", Negative: long, Steps: 2, Sampler: "euler_a", CFG: 5}},
	} {
		if !tolerant && tc.name != "euler a guided" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			o := tc.opts
			o.OnStep = func(step, total int, latents []float32) {
				calls++
				if want := len(seeds) * 4 * 8 * 8; len(latents) != want {
					t.Errorf("step %d: %d latents, want %d", step, len(latents), want)
				}
			}
			batch, err := p.GenerateBatch(gocontext.Background(), o, seeds)
			if err != nil {
				t.Fatal(err)
			}
			if calls != o.Steps {
				t.Errorf("OnStep called %d times, want %d", calls, o.Steps)
			}
			for i, seed := range seeds {
				o := tc.opts
				o.Seed, o.Concurrent = seed, 1 // the batch's parts and passes run at once
				one, err := p.Generate(gocontext.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				if batch[i].Options.Seed != seed {
					t.Errorf("image %d: options seed %d, want %d", i, batch[i].Options.Seed, seed)
				}
				var worst float64
				for k, v := range one.Latents {
					worst = max(worst, math.Abs(float64(v-batch[i].Latents[k])))
				}
				switch {
				case !tolerant && (worst != 0 || !slices.Equal(batch[i].Image.Pix, one.Image.Pix)):
					t.Errorf("image %d (seed %d) differs from the same seed alone (latents by up to %g)", i, seed, worst)
				case worst > batchTolerance:
					t.Errorf("image %d (seed %d): latents differ from the same seed alone by up to %g", i, seed, worst)
				case worst > 0:
					t.Logf("image %d (seed %d): latents differ from the same seed alone by up to %g", i, seed, worst)
				}
			}
			if slices.Equal(batch[0].Latents, batch[1].Latents) {
				t.Error("seeds 7 and 123456 gave the same image")
			}
		})
	}
}
