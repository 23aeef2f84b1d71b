package sdtrain

import (
	"math"
	"path/filepath"
	"testing"

	"kata/model/trainstate"
	"kata/model/trainstate/trainstatetest"
)

// goldenCheckpoint is the stage state stored in
// testdata/checkpoint-v1.safetensors (tinyArch, two weights of which one is
// trained, three steps).
func goldenCheckpoint(t *testing.T) *checkpoint {
	t.Helper()
	return &checkpoint{State: trainstate.State{Step: 3, AdamStep: 3, RNG: trainstatetest.PCG(t, 5, 6), Fingerprint: "steps=3 lr=1e-4"},
		Stage: StageUNet, Done: true, ScalingFactor: 0.18215, Arch: tinyArch(),
		Weights: map[string][]float32{"unet/conv_in/weights": {1, 2, 3, 4, 5, 6}, "vae/scale": {float32(math.Pi)}},
		Shapes:  map[string][]int{"unet/conv_in/weights": {2, 3}, "vae/scale": {1}},
		M:       map[string][]float32{"unet/conv_in/weights": {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}},
		V:       map[string][]float32{"unet/conv_in/weights": {1e-4, 2e-4, 3e-4, 4e-4, 5e-4, 6e-4}},
		EMA:     map[string][]float32{"unet/conv_in/weights": {0.9, 1.9, 2.9, 3.9, 4.9, 5.9}},
		Losses:  []float32{0.5, 0.25, 0.125}}
}

// TestCheckpointFormat: a checkpoint written by an earlier Kata (the golden
// file, written by saveCheckpoint at commit ff8f523 before the run-state
// metadata moved to model/trainstate) loads to the same state, and saving
// that state again writes the same bytes.
func TestCheckpointFormat(t *testing.T) {
	trainstatetest.Golden(t, filepath.Join("testdata", "checkpoint-v1.safetensors"), goldenCheckpoint(t),
		loadCheckpoint, saveCheckpoint)
}

// TestCheckpointBadMetadata: each damaged run-state field is refused with
// an error that names it and the file.
func TestCheckpointBadMetadata(t *testing.T) {
	damages := []trainstatetest.Damage{
		{Key: "step", Value: "", Want: "step"},
		{Key: "adam_step", Value: "1.5", Want: "adam_step"},
		{Key: "done", Value: "maybe", Want: "done"},
		{Key: "rng", Value: "%%%", Want: "rng"},
		{Key: "rng", Value: "AAAA", Want: "rng"},
		{Key: "scaling_factor", Value: "", Want: "scaling"},
		{Key: "stage", Value: "text", Want: "stage"},
		{Key: "format", Value: "kata-world-judges-checkpoint", Want: "not a Kata model-training checkpoint"},
	}
	trainstatetest.Refused(t, filepath.Join("testdata", "checkpoint-v1.safetensors"), damages, func(path string) error {
		_, err := loadCheckpoint(path)
		return err
	})
}
