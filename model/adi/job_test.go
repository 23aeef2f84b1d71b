package adi

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
)

func TestJobCancelAndCheckpoints(t *testing.T) {
	base := tinyBase(t)
	dir := exemplarDir(t, 2)
	ckpt := filepath.Join(t.TempDir(), "job.ckpt")
	var checkpoints atomic.Int32
	var job *Job
	job = Start(context.Background(), base, []string{dir}, Options{Method: MethodTI, Name: "squat", Steps: 50,
		CheckpointPath: ckpt, CheckpointEvery: 2}, func(e Event) {
		if e.Kind == EventCheckpoint {
			checkpoints.Add(1)
		}
		if e.Kind == EventStep && e.Step == 5 {
			job.Cancel()
		}
	})
	<-job.Done()
	id, err := job.Wait()
	if !errors.Is(err, context.Canceled) || id != nil {
		t.Fatalf("cancelled job: %v, %v", id, err)
	}
	// Steps 2 and 4 by schedule, 5 on cancel.
	if n := checkpoints.Load(); n != 3 {
		t.Errorf("%d checkpoints, want 3", n)
	}
	if last := job.Latest(); last.Kind != EventDone || !errors.Is(last.Err, context.Canceled) || last.Step != 5 {
		t.Errorf("last event %+v", last)
	}
	c, err := LoadCheckpoint(ckpt, AdamWConfig{})
	if err != nil || c.Step != 5 || c.Lv != 1 || c.Adam.Step != 5 {
		t.Errorf("checkpoint %+v, %v", c, err)
	}
}
