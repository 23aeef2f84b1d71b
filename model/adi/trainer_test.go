package adi

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/scheduler"
)

// testExemplars are n small exemplar images of different sizes.
func testExemplars(n int) []Exemplar {
	var out []Exemplar
	for i := range n {
		out = append(out, Exemplar{Name: string(rune('a'+i)) + ".png", Image: testImage(48+8*i, 64-4*i)})
	}
	return out
}

func tinyBase(t testing.TB) Base {
	m, be := tiny(t)
	// The test renderer stands in for image-to-image: an inverted anchor is a
	// valid "other" image and keeps the test fast.
	inv := func(ctx context.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error) {
		return imaging.Invert(img), nil
	}
	return Base{Model: m, Backend: be, Img2Img: inv}
}

// snapshot copies every model variable's values.
func snapshot(t *testing.T, ctx *mlctx.Context) map[string][]float32 {
	out := map[string][]float32{}
	ctx.EnumerateVariables(func(v *mlctx.Variable) {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		out[v.ScopeAndName()] = tensors.MustCopyFlatData[float32](val)
	})
	return out
}

func TestTrainFrozenAndResume(t *testing.T) {
	base := tinyBase(t)
	dir := testExemplars(3)
	before := snapshot(t, base.Model.Ctx)
	opts := Options{Method: MethodADI, Name: "handstand", Steps: 6, BatchSize: 1, GradAccum: 2, Seed: 11,
		Contrast: ContrastOptions{CacheDir: filepath.Join(t.TempDir(), "contrast")}}

	var events []Event
	full, err := Train(context.Background(), base, dir, opts, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	for _, e := range events {
		if e.Kind == EventStep {
			steps++
			if e.Step != steps || e.Steps != 6 || math.IsNaN(e.Loss) || e.StepsPerSec <= 0 {
				t.Errorf("step event %+v", e)
			}
			// m_c keeps under half of a layer's entries at beta 0.5, so
			// both masks keep at most half; the vectors move every step.
			if e.MaskKept <= 0 || e.MaskKept > 0.5 || !(e.Drift > 0) || math.IsInf(e.Drift, 0) {
				t.Errorf("step %d: mask kept %v, drift %v", e.Step, e.MaskKept, e.Drift)
			}
		}
	}
	if steps != 6 || events[len(events)-1].Kind != EventDone {
		t.Errorf("%d step events, last event %+v", steps, events[len(events)-1])
	}
	if len(full.Vectors) != 16 || full.Steps != 6 || full.Method != MethodADI || full.BaseModelHash != base.Model.SHA256 {
		t.Errorf("identifier: %d vectors, %+v", len(full.Vectors), full.Metadata)
	}

	// The base model is frozen: not one weight changed.
	after := snapshot(t, base.Model.Ctx)
	if len(after) != len(before) || len(before) < 900 {
		t.Fatalf("%d variables before, %d after", len(before), len(after))
	}
	for k, v := range before {
		if !slices.Equal(v, after[k]) {
			t.Errorf("model weight %s changed during training", k)
		}
	}

	// Interrupted run: cancel after step 2, resume to 6; bit-for-bit equal.
	ckpt := filepath.Join(t.TempDir(), "run.ckpt.safetensors")
	o2 := opts
	o2.CheckpointPath, o2.CheckpointEvery = ckpt, 100
	cctx, cancel := context.WithCancel(context.Background())
	_, err = Train(cctx, base, dir, o2, func(e Event) {
		if e.Kind == EventStep && e.Step == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err %v", err)
	}
	c, err := LoadCheckpoint(ckpt, o2.AdamW)
	if err != nil || c.Step != 2 {
		t.Fatalf("checkpoint after cancel: step %v err %v", c, err)
	}
	o2.Resume = true
	var firstResumed int
	resumed, err := Train(context.Background(), base, dir, o2, func(e Event) {
		if e.Kind == EventStep && firstResumed == 0 {
			firstResumed = e.Step
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if firstResumed != 3 {
		t.Errorf("resumed run started at step %d, want 3", firstResumed)
	}
	if !slices.Equal(resumed.Flat(), full.Flat()) {
		t.Errorf("resumed run differs from the uninterrupted one")
	}
	// A checkpoint of other settings is refused.
	o3 := o2
	o3.Seed = 12
	if _, err := Train(context.Background(), base, dir, o3, nil); err == nil {
		t.Errorf("resume with another seed: no error")
	}
}

// TestTrainLowersLoss trains P+ briefly and checks the loss on a fixed
// evaluation batch (fixed latents, noise and timesteps) went down.
func TestTrainLowersLoss(t *testing.T) {
	base := tinyBase(t)
	dir := testExemplars(2)
	opts := Options{Method: MethodPPlus, Name: "salute", Steps: 30, Seed: 3, BatchSize: 2, AdamW: AdamWConfig{LR: 0.02}}
	tr, err := prepare(context.Background(), base, dir, mustDefaults(t, opts), func(Event) {})
	if err != nil {
		t.Fatal(err)
	}
	init, err := tr.initVector()
	if err != nil {
		t.Fatal(err)
	}
	initFlat := slices.Concat(slices.Repeat([][]float32{init}, 16)...)
	eval := func(vectors []float32) float64 {
		rng := newEvalRNG()
		var sum float64
		for k := range 8 {
			ex := k % len(tr.anchors)
			x0 := tr.anchors[ex][0].sample(rng, float32(base.Model.VAE.ScalingFactor))
			noise := randn(rng, len(x0))
			ts := 100 + 100*k
			noisy, _ := tr.schedule.AddNoise(x0, noise, ts)
			res, err := tr.lossFn.Compute(LossBatch{Noisy: noisy, Noise: noise, Timesteps: []int32{int32(ts)},
				IDs: tr.ids[ex], Slots: tr.slots[ex], Vectors: vectors, B: 1, T: len(tr.ids[ex]), Lv: 16, LatentDim: tr.latDim})
			if err != nil {
				t.Fatal(err)
			}
			sum += float64(res.Losses[0])
		}
		return sum / 8
	}
	l0 := eval(initFlat)
	var last Event
	tr.onEvent = func(e Event) {
		if e.Kind == EventStep {
			last = e
		}
	}
	id, err := tr.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l1 := eval(id.Flat())
	// The last step reports how far V moved from the init word's
	// embedding, ||V - V0|| / ||V0||; P+ has no masks.
	var moved, norm float64
	for i, v := range id.Flat() {
		moved += (float64(v) - float64(initFlat[i])) * (float64(v) - float64(initFlat[i]))
		norm += float64(initFlat[i]) * float64(initFlat[i])
	}
	if want := math.Sqrt(moved / norm); math.Abs(last.Drift-want) > 1e-9*want || last.MaskKept != 0 {
		t.Errorf("last step: drift %v (want %v), mask kept %v (want 0)", last.Drift, want, last.MaskKept)
	}
	t.Logf("P+ loss on the evaluation batch: %.6f before, %.6f after 30 steps", l0, l1)
	if !(l1 < l0) {
		t.Errorf("training did not lower the loss: %.6f -> %.6f", l0, l1)
	}
}

func mustDefaults(t *testing.T, o Options) Options {
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func newEvalRNG() *rand.Rand { return rand.New(rand.NewPCG(99, 1)) }

func randn(rng *rand.Rand, n int) []float32 { return scheduler.Randn(rng, n) }

// TestTrainCancelCheckpoints cancels a run from its progress callback: it
// stops at the step boundary with a checkpoint on top of the scheduled ones.
func TestTrainCancelCheckpoints(t *testing.T) {
	base := tinyBase(t)
	ckpt := filepath.Join(t.TempDir(), "job.ckpt")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var checkpoints int
	var last Event
	id, err := Train(ctx, base, testExemplars(2), Options{Method: MethodTI, Name: "squat", Steps: 50,
		CheckpointPath: ckpt, CheckpointEvery: 2}, func(e Event) {
		if e.Kind == EventCheckpoint {
			checkpoints++
		}
		if e.Kind == EventStep && e.Step == 5 {
			cancel()
		}
		last = e
	})
	if !errors.Is(err, context.Canceled) || id != nil {
		t.Fatalf("cancelled run: %v, %v", id, err)
	}
	// Steps 2 and 4 by schedule, 5 on cancel.
	if checkpoints != 3 {
		t.Errorf("%d checkpoints, want 3", checkpoints)
	}
	if last.Kind != EventDone || !errors.Is(last.Err, context.Canceled) || last.Step != 5 {
		t.Errorf("last event %+v", last)
	}
	c, err := LoadCheckpoint(ckpt, AdamWConfig{})
	if err != nil || c.Step != 5 || c.Lv != 1 || c.Adam.Step != 5 {
		t.Errorf("checkpoint %+v, %v", c, err)
	}
}
