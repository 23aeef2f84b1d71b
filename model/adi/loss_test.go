package adi

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	mlctx "github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/backend"
	"kata/model/safetensors"
	"kata/model/sd"
	"kata/model/sd/sdtest"
)

var (
	tinyOnce  sync.Once
	tinyModel *sd.Model
	tinyBack  backends.Backend
	tinyErr   error
)

// tiny loads the sd-tiny fixture model and the test backend (sdtest.Backend) once.
func tiny(t testing.TB) (*sd.Model, backends.Backend) {
	t.Helper()
	tinyOnce.Do(func() {
		if tinyBack, tinyErr = backend.New(sdtest.Backend()); tinyErr != nil {
			return
		}
		tinyModel, tinyErr = sd.Load(sdtest.TinyDir(), nil)
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyModel, tinyBack
}

func refFloats(t testing.TB, name string) []float32 {
	t.Helper()
	f, err := safetensors.Open(sdtest.TinyDir() + "/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, _, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// closeRel checks max|got-want| <= tol * max|want|.
func closeRel(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	var maxDiff, maxRef float64
	for i := range got {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i])-float64(want[i])))
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
	}
	if maxDiff > tol*maxRef {
		t.Errorf("%s: max abs diff %.3g vs reference scale %.3g (tolerance %.1g relative)", name, maxDiff, maxRef, tol)
	} else {
		t.Logf("%s: max abs diff %.3g (reference scale %.3g)", name, maxDiff, maxRef)
	}
}

// referenceBatch builds the reference.json construction: prompt 'a photo
// of a person <x>' with the placeholder at position 6, timestep 420.
func referenceBatch(t *testing.T, vectors []float32, lv int) LossBatch {
	ids := refFloats(t, "ti_token_ids")
	pos := int(refFloats(t, "ti_placeholder_index")[0])
	b := LossBatch{
		Noisy: refFloats(t, "ti_noisy_latent"), Noise: refFloats(t, "ti_noise"),
		Timesteps: []int32{int32(refFloats(t, "ti_timestep")[0])},
		IDs:       make([]int32, len(ids)), Slots: make([]float32, len(ids)),
		Vectors: vectors, B: 1, T: len(ids), Lv: lv, LatentDim: [3]int{4, 8, 8},
	}
	for i, v := range ids {
		b.IDs[i] = int32(v)
	}
	b.Slots[pos] = 1
	return b
}

func TestLossMatchesReference(t *testing.T) {
	m, be := tiny(t)
	lf, err := NewLossFunc(be, m.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, v, loss, grad string
		lv                  int
	}{{"ti", "ti_v", "ti_loss", "ti_grad", 1}, {"pplus", "pplus_v", "pplus_loss", "pplus_grad", 16}} {
		t.Run(c.name, func(t *testing.T) {
			res, err := lf.Compute(referenceBatch(t, refFloats(t, c.v), c.lv))
			if err != nil {
				t.Fatal(err)
			}
			closeRel(t, c.loss, res.Losses, refFloats(t, c.loss), 1e-4)
			closeRel(t, c.grad, res.Grads, refFloats(t, c.grad), 1e-4)
		})
	}
}

// TestLossBatchPerSample checks that a batch yields each sample's own loss
// and gradient: the same as computing the samples one by one.
func TestLossBatchPerSample(t *testing.T) {
	m, be := tiny(t)
	lf, err := NewLossFunc(be, m.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	v := refFloats(t, "pplus_v")
	one := referenceBatch(t, v, 16)
	var batch LossBatch
	batch = LossBatch{B: 3, T: one.T, Lv: 16, LatentDim: one.LatentDim}
	var singles []LossResult
	for k, ts := range []int32{420, 37, 900} {
		s := referenceBatch(t, v, 16)
		s.Timesteps = []int32{ts}
		s.Vectors = append([]float32(nil), v...)
		s.Vectors[k] += 0.5 // each sample its own vectors
		r, err := lf.Compute(s)
		if err != nil {
			t.Fatal(err)
		}
		singles = append(singles, r)
		batch.Noisy = append(batch.Noisy, s.Noisy...)
		batch.Noise = append(batch.Noise, s.Noise...)
		batch.Timesteps = append(batch.Timesteps, s.Timesteps...)
		batch.IDs = append(batch.IDs, s.IDs...)
		batch.Slots = append(batch.Slots, s.Slots...)
		batch.Vectors = append(batch.Vectors, s.Vectors...)
	}
	n := len(v)
	// One execution of the whole batch, one per sample (what the pure-Go
	// backend does), an uneven split, and executions run at once
	// (MemoryOptions.Concurrent), which must give one after another's bits.
	var oneByOne LossResult
	for _, c := range []struct{ perCall, concurrent int }{{0, 1}, {1, 1}, {2, 1}, {1, 3}, {1, 2}, {2, 2}} {
		perCall := c.perCall
		lf.perCall = perCall
		lf.SetConcurrentCalls(c.concurrent)
		res, err := lf.Compute(batch)
		if err != nil {
			t.Fatal(err)
		}
		if perCall == 1 && c.concurrent == 1 {
			oneByOne = res
		} else if perCall == 1 && (!slices.Equal(res.Losses, oneByOne.Losses) || !slices.Equal(res.Grads, oneByOne.Grads)) {
			t.Errorf("%d executions at once: not the bits of one after another", c.concurrent)
		}
		if len(res.Losses) != 3 || len(res.Grads) != 3*n {
			t.Fatalf("perCall %d: %d losses, %d gradient values; want 3, %d", perCall, len(res.Losses), len(res.Grads), 3*n)
		}
		for k, s := range singles {
			closeRel(t, fmt.Sprintf("perCall %d: loss %d", perCall, k), res.Losses[k:k+1], s.Losses, 1e-5)
			closeRel(t, fmt.Sprintf("perCall %d: gradient %d", perCall, k), res.Grads[k*n:(k+1)*n], s.Grads, 1e-4)
		}
	}
	if _, err := lf.Compute(LossBatch{B: 1}); err == nil {
		t.Errorf("empty batch: no error")
	}
}

// TestTrainingEncodingsMatchReference checks the 16 per-layer text encodings
// the trainer feeds the UNet against reference.safetensors pplus_encodings.
func TestTrainingEncodingsMatchReference(t *testing.T) {
	m, be := tiny(t)
	b := referenceBatch(t, refFloats(t, "pplus_v"), 16)
	fn := func(ctx *mlctx.Context, ids, slots, vectors *Node) *Node {
		return Concatenate(trainingEncodings(ctx, ids, slots, vectors), 0)
	}
	out, err := mlctx.ExecOnce(be, m.Ctx.Reuse(), fn,
		tensors.FromFlatDataAndDimensions(b.IDs, 1, b.T),
		tensors.FromFlatDataAndDimensions(b.Slots, 1, b.T),
		tensors.FromFlatDataAndDimensions(b.Vectors, 1, 16, 32))
	if err != nil {
		t.Fatal(err)
	}
	closeRel(t, "pplus_encodings", tensors.MustCopyFlatData[float32](out), refFloats(t, "pplus_encodings"), 1e-5)
}
