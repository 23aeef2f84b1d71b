package adi

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/safetensors"
)

func TestNonFiniteStep(t *testing.T) {
	for _, tc := range []struct {
		name      string
		loss      float64
		grad      []float32
		saved     int
		path      string
		wantErr   bool
		wantWords string
	}{
		{"finite", 0.5, []float32{1, -2}, 3, "c.ckpt", false, ""},
		{"nan loss", math.NaN(), []float32{1}, 4, "c.ckpt", true, "step 4) is kept in c.ckpt"},
		{"inf grad", 0.5, []float32{0, float32(math.Inf(1))}, -1, "c.ckpt", true, "no checkpoint was written"},
		{"nan grad, no checkpoints", 0.5, []float32{float32(math.NaN())}, -1, "", true, "checkpoints are off"},
	} {
		err := nonFiniteStep(tc.loss, tc.grad, "gradient", 7, tc.saved, tc.path)
		if (err != nil) != tc.wantErr || err != nil && (!errors.Is(err, ErrNonFiniteLoss) || !strings.Contains(err.Error(), tc.wantWords)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// A learning rate near float32's range drives the loss to NaN or infinity:
// training stops with ErrNonFiniteLoss and leaves the last checkpoint
// loadable, with finite vectors.
func TestTrainStopsOnNonFiniteLoss(t *testing.T) {
	base := tinyBase(t)
	ckpt := filepath.Join(t.TempDir(), "job.ckpt")
	opts := Options{Method: MethodTI, Name: "squat", Steps: 40, CheckpointPath: ckpt, CheckpointEvery: 1}
	opts.AdamW.LR = 1e37
	id, trainErr := Train(context.Background(), base, testExemplars(1), opts, nil)
	if !errors.Is(trainErr, ErrNonFiniteLoss) || id != nil {
		t.Fatalf("train with a huge learning rate: %v, %v", id, trainErr)
	}
	c, err := LoadCheckpoint(ckpt, AdamWConfig{})
	if err != nil {
		t.Fatalf("last checkpoint: %v", err)
	}
	for i, v := range c.Vectors {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("checkpoint value %d is %g", i, v)
		}
	}
	t.Logf("%v (checkpoint at step %d)", trainErr, c.Step)
}

// Identifier files with NaN or infinite values are refused at load.
func TestLoadRefusesNonFiniteVectors(t *testing.T) {
	dir := t.TempDir()
	for name, v := range map[string]float32{"nan": float32(math.NaN()), "inf": float32(math.Inf(-1))} {
		p := filepath.Join(dir, name+".safetensors")
		vec := []float32{0.1, v, 0.3, 0.4}
		if err := safetensors.Write(p, []safetensors.Tensor{safetensors.F32Tensor(KeyEmbParams, []int{1, 4}, vec)}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "NaN or infinite") {
			t.Errorf("%s: %v", name, err)
		}
		id := &Identifier{Metadata: Metadata{Trigger: "<x>", Method: MethodTI}, Vectors: [][]float32{vec}}
		if err := Save(filepath.Join(dir, name+"-out.safetensors"), id); err == nil {
			t.Errorf("%s: saved", name)
		}
	}
}
