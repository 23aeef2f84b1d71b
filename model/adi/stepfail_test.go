package adi

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"kata/model/backend"
)

// TestStepFailureKeepsCheckpoint fails the loss computation of step 3 (as
// XLA does when the GPU runs out of memory mid-run, and with another error)
// and checks that training stops with a clear error, leaves the checkpoint
// of step 2 although the periodic one was not due, and that resuming from
// it ends bit for bit where an uninterrupted run ends.
func TestStepFailureKeepsCheckpoint(t *testing.T) {
	base := tinyBase(t)
	dir := testExemplars(3)
	opts := Options{Method: MethodADI, Name: "handstand", Steps: 4, Seed: 5,
		Contrast: ContrastOptions{CacheDir: filepath.Join(t.TempDir(), "contrast")}}
	// The uninterrupted runs, per split mode: a batched execution rounds
	// differently from one sample at a time.
	full := map[SplitMode][]float32{}
	uninterrupted := func(t *testing.T, split SplitMode) []float32 {
		if v, ok := full[split]; ok {
			return v
		}
		o := opts
		o.Memory.Split = split
		id, err := Train(context.Background(), base, dir, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		full[split] = id.Flat()
		return full[split]
	}
	for _, c := range []struct {
		name  string
		fail  error
		split SplitMode
		oom   bool
		want  []string
	}{
		{"xla-oom", errors.New("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.20GiB"), SplitAuto, true,
			[]string{"step 3 ran out of memory", "RESOURCE_EXHAUSTED", "checkpoint of step 2 is kept", "CPU"}},
		{"xla-oom-batch", errors.New("RESOURCE_EXHAUSTED: Failed to allocate request for 3.0GiB"), SplitBatch, true,
			[]string{"step 3 ran out of memory", "split mode samples", "checkpoint of step 2 is kept"}},
		{"other", errors.New("INTERNAL: the device went away"), SplitAuto, false,
			[]string{"step 3: INTERNAL: the device went away", "checkpoint of step 2 is kept"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := opts
			o.CheckpointPath, o.CheckpointEvery = filepath.Join(t.TempDir(), "run.ckpt.safetensors"), 100
			o.Memory.Split = c.split
			tr, err := prepare(context.Background(), base, dir, o, func(Event) {})
			if err != nil {
				t.Fatal(err)
			}
			calls, compute := 0, tr.compute
			tr.compute = func(b LossBatch) (LossResult, error) {
				if calls++; calls == 3 {
					return LossResult{}, c.fail
				}
				return compute(b)
			}
			_, err = tr.run(context.Background())
			if err == nil {
				t.Fatal("no error from a failing step")
			}
			if got := errors.Is(err, backend.ErrOutOfMemory); got != c.oom {
				t.Errorf("errors.Is(err, ErrOutOfMemory) = %v, want %v: %v", got, c.oom, err)
			}
			if !errors.Is(err, c.fail) {
				t.Errorf("error does not wrap the step's failure: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			ck, err := LoadCheckpoint(o.CheckpointPath, o.AdamW)
			if err != nil || ck.Step != 2 {
				t.Fatalf("checkpoint after the failure: %+v, %v; want step 2", ck, err)
			}
			o.Resume = true
			resumed, err := Train(context.Background(), base, dir, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(resumed.Flat(), uninterrupted(t, c.split)) {
				t.Errorf("run resumed after the failure differs from the uninterrupted one")
			}
		})
	}
}

// TestStepFailureBeforeAnyStep: a first step that fails leaves no
// checkpoint and says so.
func TestStepFailureBeforeAnyStep(t *testing.T) {
	base := tinyBase(t)
	o := Options{Method: MethodTI, Name: "handstand", Steps: 2, CheckpointPath: filepath.Join(t.TempDir(), "c.safetensors")}
	tr, err := prepare(context.Background(), base, testExemplars(2), o, func(Event) {})
	if err != nil {
		t.Fatal(err)
	}
	tr.compute = func(LossBatch) (LossResult, error) { return LossResult{}, errors.New("CUDA_ERROR_OUT_OF_MEMORY") }
	_, err = tr.run(context.Background())
	if !errors.Is(err, backend.ErrOutOfMemory) || !strings.Contains(err.Error(), "no step had finished") {
		t.Errorf("error %v", err)
	}
	if _, err := LoadCheckpoint(o.CheckpointPath, o.AdamW); err == nil {
		t.Errorf("a checkpoint was written although no step finished")
	}
}

func TestParseSplitMode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SplitMode
		ok   bool
	}{{"", SplitAuto, true}, {"auto", SplitAuto, true}, {" Samples ", SplitSamples, true}, {"batch", SplitBatch, true}, {"half", "", false}} {
		got, err := ParseSplitMode(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("ParseSplitMode(%q) = %q, %v", c.in, got, err)
		}
	}
	if _, err := (Options{Name: "x", Memory: MemoryOptions{Split: "half"}}).withDefaults(); err == nil {
		t.Errorf("options with split mode half: no error")
	}
}
