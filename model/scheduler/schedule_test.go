package scheduler

import (
	"math"
	"path/filepath"
	"testing"

	"kata/model/safetensors"
)

func reference(t testing.TB) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(filepath.Join("testdata", "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func refTensor(t testing.TB, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, _, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func fixtureConfig(t testing.TB) Config {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join("testdata", "scheduler_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAlphasCumprod(t *testing.T) {
	want := refTensor(t, reference(t), "alphas_cumprod")
	s, err := NewSchedule(fixtureConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.AlphasCumprod) != len(want) {
		t.Fatalf("len %d, want %d", len(s.AlphasCumprod), len(want))
	}
	mismatch, maxDiff := 0, 0.0
	for i := range want {
		if s.AlphasCumprod[i] != want[i] {
			mismatch++
			maxDiff = math.Max(maxDiff, math.Abs(float64(s.AlphasCumprod[i]-want[i])))
		}
	}
	if mismatch > 0 {
		t.Errorf("%d of %d values differ from torch, max |diff| %g", mismatch, len(want), maxDiff)
	}
}
