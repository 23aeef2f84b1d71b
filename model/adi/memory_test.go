package adi

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"testing"

	"kata/model/backend"
	"kata/model/gcsetting"
	"kata/model/sd"
	"kata/model/sd/sdtest"
)

// TestTrainGCPercent checks that Train holds MemoryOptions.GCPercent on the
// pure-Go backend while it runs and restores the setting after.
func TestTrainGCPercent(t *testing.T) {
	base := tinyBase(t)
	if !backend.PureGo(base.Backend) {
		t.Skip("the GC target applies to the pure-Go backend only")
	}
	defer debug.SetGCPercent(gcsetting.Percent())
	for _, tc := range []struct {
		option, want int
	}{{0, DefaultGCPercent}, {-1, 100}, {40, 40}, {200, 100}} {
		t.Run(fmt.Sprint(tc.option), func(t *testing.T) {
			debug.SetGCPercent(100)
			var seen []int
			_, err := Train(context.Background(), base, testExemplars(2), Options{Name: "gc", Steps: 1,
				Memory: MemoryOptions{GCPercent: tc.option}}, func(e Event) {
				if e.Kind == EventPrepare || e.Kind == EventStep {
					seen = append(seen, gcsetting.Percent())
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) == 0 || slices.ContainsFunc(seen, func(p int) bool { return p != tc.want }) {
				t.Errorf("GC percent during the run %v, want %d throughout", seen, tc.want)
			}
			if got := gcsetting.Percent(); got != 100 {
				t.Errorf("GC percent after the run %d, want 100 back", got)
			}
		})
	}
}

// TestLossStoredPrecision checks that weights kept in half precision as
// stored (what kata train loads where the backend widens float16) give the
// loss and gradient of the same weights widened to float32 at load: the
// widening is exact and the same kernels run.
func TestLossStoredPrecision(t *testing.T) {
	_, be := tiny(t)
	if !backend.SupportsHalf(be) {
		t.Skip("the backend keeps no half-precision weights")
	}
	v := refFloats(t, "pplus_v")
	b := referenceBatch(t, v, 16)
	var res [2]LossResult
	for i, prec := range []string{sd.PrecisionF32, sd.PrecisionStored} {
		opts := &sd.LoadOptions{Variant: "fp16", Precision: prec}
		if prec == sd.PrecisionStored {
			opts.Backend = be
		}
		m, err := sd.Load(sdtest.TinyDir(), opts)
		if err != nil {
			t.Fatal(err)
		}
		lf, err := NewLossFunc(be, m.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res[i], err = lf.Compute(b); err != nil {
			t.Fatalf("%s weights: %v", prec, err)
		}
		m.Finalize()
	}
	closeRel(t, "loss", res[1].Losses, res[0].Losses, 0)
	closeRel(t, "gradient", res[1].Grads, res[0].Grads, 0)
}

// TestTextPassApart checks that the loss and gradient with the text encoder
// run apart from the UNet are those of the joint graph, for layer-wise and
// single vectors and a batch of samples with their own vectors.
func TestTextPassApart(t *testing.T) {
	m, be := tiny(t)
	v := refFloats(t, "pplus_v")
	for _, tc := range []struct {
		name string
		lv   int
		b    int
	}{{"P+ vectors, one sample", 16, 1}, {"one vector, one sample", 1, 1}, {"P+ vectors, 3 samples", 16, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			one := referenceBatch(t, v[:tc.lv*len(v)/16], tc.lv)
			b := LossBatch{B: tc.b, T: one.T, Lv: tc.lv, LatentDim: one.LatentDim}
			for k := range tc.b {
				b.Noisy = append(b.Noisy, one.Noisy...)
				b.Noise = append(b.Noise, one.Noise...)
				b.Timesteps = append(b.Timesteps, one.Timesteps[0]+int32(100*k))
				b.IDs = append(b.IDs, one.IDs...)
				b.Slots = append(b.Slots, one.Slots...)
				vk := append([]float32(nil), one.Vectors...)
				vk[k] += 0.5
				b.Vectors = append(b.Vectors, vk...)
			}
			var res [2]LossResult
			for i, apart := range []bool{false, true} {
				lf, err := NewLossFunc(be, m.Ctx)
				if err != nil {
					t.Fatal(err)
				}
				lf.SetSamplesPerCall(0)
				lf.SetTextApart(apart)
				if res[i], err = lf.Compute(b); err != nil {
					t.Fatalf("apart %v: %v", apart, err)
				}
			}
			closeRel(t, "losses", res[1].Losses, res[0].Losses, 0)
			closeRel(t, "gradients", res[1].Grads, res[0].Grads, 0)
		})
	}
}

func TestConcurrentDefault(t *testing.T) {
	for _, tc := range []struct {
		set    int
		pureGo bool
		side   int
		want   int // 3: a whole ADI triple at once
	}{
		{0, true, 16, 3},  // Kata World on the CPU
		{0, true, 64, 1},  // SD 1.5 at 512 px
		{0, false, 16, 1}, // an accelerator
		{1, true, 16, 1},
		{2, true, 64, 2},
	} {
		if got := min(MemoryOptions{Concurrent: tc.set}.concurrent(tc.pureGo, tc.side), 3); got != tc.want {
			t.Errorf("Concurrent %d, pure Go %v, latent %d: %d executions of a triple at once, want %d", tc.set, tc.pureGo, tc.side, got, tc.want)
		}
	}
}
