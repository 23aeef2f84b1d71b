package ui

import (
	"context"
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
}

func (f *fakeGenerate) Generate(ctx context.Context, r app.GenerateRequest, progress func(step, total int)) (app.GenerationInfo, error) {
	for step := 1; step <= 3; step++ {
		progress(step, 3)
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return app.GenerationInfo{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prompts = append(f.prompts, r.Prompt)
	return app.GenerationInfo{ID: int64(len(f.prompts)), Prompt: r.Prompt, Seed: r.Seed, Warnings: []string{"tag <hypernet:x> ignored"}}, nil
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
