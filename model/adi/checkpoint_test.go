package adi

import (
	"math"
	"path/filepath"
	"testing"

	"kata/model/trainstate/trainstatetest"
)

// goldenCheckpoint is the run state stored in testdata/checkpoint-v1.safetensors.
func goldenCheckpoint(t *testing.T) *Checkpoint {
	t.Helper()
	adam := NewAdamW(DefaultAdamW(), 6)
	copy(adam.M, []float32{0.1, -0.2, 0.3, -0.4, 0.5, -0.6})
	copy(adam.V, []float32{1e-3, 2e-3, 3e-3, 4e-3, 5e-3, 6e-3})
	adam.Step = 41
	return &Checkpoint{Step: 42, Vectors: []float32{1, -2, 3.5, float32(math.Pi), -0, 1e-7}, Lv: 2, D: 3,
		Adam: adam, RNG: trainstatetest.PCG(t, 7, 8), Smoothed: 0.1 + 0.2, Fingerprint: "lr=0.005 steps=100"}
}

// TestCheckpointFormat: a checkpoint written by an earlier Kata (the golden
// file, written by SaveCheckpoint at commit ff8f523 before the run-state
// metadata moved to model/trainstate) loads to the same state, and saving
// that state again writes the same bytes.
func TestCheckpointFormat(t *testing.T) {
	trainstatetest.Golden(t, filepath.Join("testdata", "checkpoint-v1.safetensors"), goldenCheckpoint(t),
		func(path string) (*Checkpoint, error) { return LoadCheckpoint(path, DefaultAdamW()) }, SaveCheckpoint)
}

// TestCheckpointBadMetadata: each damaged run-state field is refused with
// an error that names it.
func TestCheckpointBadMetadata(t *testing.T) {
	damages := []trainstatetest.Damage{
		{Key: "step", Value: "x", Want: "step"},
		{Key: "adam_step", Value: "", Want: "adam_step"},
		{Key: "rng", Value: "not base64!", Want: "rng"},
		{Key: "rng", Value: "AAAA", Want: "rng"},
		{Key: "smoothed", Value: "zz", Want: "smoothed"},
		{Key: metaFormat, Value: "identifier", Want: "not a Kata training checkpoint"},
	}
	trainstatetest.Refused(t, filepath.Join("testdata", "checkpoint-v1.safetensors"), damages, func(path string) error {
		_, err := LoadCheckpoint(path, DefaultAdamW())
		return err
	})
}
