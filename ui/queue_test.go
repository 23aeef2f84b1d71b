package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"kata/app"
)

// fakeGenerate answers Generate without a model: it reports steps, then
// returns an image record, or stops when ctx is cancelled.
type fakeGenerate struct {
	*app.Kata
	mu      sync.Mutex
	prompts []string
	block   chan struct{} // when set, each job waits on it (or on cancel)
	onStart func()        // when set, called as each job starts
	batches []int         // images per call
}

func (f *fakeGenerate) GenerateSeeds(ctx context.Context, r app.GenerateRequest, seeds []uint64, progress func(step, total int)) ([]app.GenerationInfo, error) {
	if f.onStart != nil {
		f.onStart()
	}
	for step := 1; step <= 3; step++ {
		progress(step, 3)
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, len(seeds))
	var out []app.GenerationInfo
	for _, seed := range seeds {
		f.prompts = append(f.prompts, r.Prompt)
		out = append(out, app.GenerationInfo{ID: int64(len(f.prompts)), Prompt: r.Prompt, Seed: seed, Warnings: []string{"tag <hypernet:x> ignored"}})
	}
	return out, nil
}

func TestJobQueueRunsInOrder(t *testing.T) {
	svc := &fakeGenerate{Kata: newTestServices(t)}
	m := newTestWindowWith(t, &scriptedPicker{}, svc)
	q := m.gallery.queue
	var results []string
	q.onResult = func(g app.GenerationInfo) { results = append(results, g.Prompt) }
	svc.block = make(chan struct{})
	// The test's goroutine is the window's UI goroutine (helpers_test.go).
	q.add(app.GenerateRequest{Prompt: "a"}, app.GenerateRequest{Prompt: "b"})
	q.add(app.GenerateRequest{Prompt: "c"}) // joins the running batch
	close(svc.block)
	m.WaitIdle()
	if strings.Join(results, ",") != "a,b,c" || q.bar.Value != 1 || q.label.Text != "Done: 3 image(s). Note: tag <hypernet:x> ignored" || q.busy() {
		t.Fatalf("results %v, bar %v, label %q, busy %v", results, q.bar.Value, q.label.Text, q.busy())
	}
}

// TestJobQueueKeepsLateJob adds a job after the queue found none left but
// before it reported the batch's end: the job runs in the same batch.
func TestJobQueueKeepsLateJob(t *testing.T) {
	svc := &fakeGenerate{Kata: newTestServices(t)}
	m := newTestWindowWith(t, &scriptedPicker{}, svc)
	q := m.gallery.queue
	var results []string
	q.onResult = func(g app.GenerationInfo) { results = append(results, g.Prompt) }
	late := true
	q.drained = func() {
		onUI(func() {
			if late {
				late = false
				q.add(app.GenerateRequest{Prompt: "late"})
			}
		})
	}
	q.add(app.GenerateRequest{Prompt: "a"})
	m.WaitIdle()
	if strings.Join(results, ",") != "a,late" || q.label.Text != "Done: 2 image(s). Note: tag <hypernet:x> ignored" || q.busy() {
		t.Fatalf("results %v, label %q, busy %v", results, q.label.Text, q.busy())
	}
}

// TestJobQueueSaysItWaitsForTraining checks that a job started while a
// training run holds the model says so until its first step.
func TestJobQueueSaysItWaitsForTraining(t *testing.T) {
	svc := &fakeGenerate{Kata: newTestServices(t)}
	m := newTestWindowWith(t, &scriptedPicker{}, svc)
	q := m.gallery.queue
	var atStart string
	svc.onStart = func() { onUI(func() { atStart = q.label.Text }) }
	m.actions.train.stop = func() {} // a run is going
	q.add(app.GenerateRequest{Prompt: "a panda"})
	m.WaitIdle()
	if want := "Image 1 of 1: a panda · waits for the training run to finish"; atStart != want {
		t.Errorf("while training: %q, want %q", atStart, want)
	}
	m.actions.train.stop = nil
	q.add(app.GenerateRequest{Prompt: "a cat"})
	m.WaitIdle()
	if strings.Contains(atStart, "waits") || strings.Contains(q.label.Text, "waits") {
		t.Errorf("no training: %q, then %q", atStart, q.label.Text)
	}
}

// TestJobQueueBatchesVariations checks that consecutive jobs that differ
// only in the seed (a cell's variations) run as one call, in order.
func TestJobQueueBatchesVariations(t *testing.T) {
	svc := &fakeGenerate{Kata: newTestServices(t)}
	m := newTestWindowWith(t, &scriptedPicker{}, svc)
	q := m.gallery.queue
	var seeds []uint64
	q.onResult = func(g app.GenerationInfo) { seeds = append(seeds, g.Seed) }
	q.add(app.GenerateRequest{Prompt: "a", Seed: 1}, app.GenerateRequest{Prompt: "a", Seed: 2}, app.GenerateRequest{Prompt: "a", Seed: 3},
		app.GenerateRequest{Prompt: "b", Seed: 4}, app.GenerateRequest{Prompt: "a", Seed: 5}, app.GenerateRequest{Prompt: "a", Seed: 6, Steps: 9})
	m.WaitIdle()
	if fmt.Sprint(svc.batches) != "[3 1 1 1]" || fmt.Sprint(seeds) != "[1 2 3 4 5 6]" || q.label.Text != "Done: 6 image(s). Note: tag <hypernet:x> ignored" {
		t.Fatalf("calls of %v images, seeds %v, label %q", svc.batches, seeds, q.label.Text)
	}
}

func TestJobQueueCancel(t *testing.T) {
	svc := &fakeGenerate{Kata: newTestServices(t), block: make(chan struct{})}
	m := newTestWindowWith(t, &scriptedPicker{}, svc)
	q := m.gallery.queue
	q.add(app.GenerateRequest{Prompt: "a"}, app.GenerateRequest{Prompt: "b"})
	if !q.busy() || q.cancel.Disabled() {
		t.Error("queue not running")
	}
	q.cancelAll()
	m.WaitIdle()
	if len(svc.prompts) != 0 || !strings.Contains(q.label.Text, "Cancelled after 0 of 2") || !q.cancel.Disabled() {
		t.Fatalf("after cancel: made %v, label %q", svc.prompts, q.label.Text)
	}
}
