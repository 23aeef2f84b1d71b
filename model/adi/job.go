package adi

import (
	"context"
	"sync"
)

// Job is a training run in its own goroutine, for user interfaces: progress
// arrives on the callback given to Start (from the job's goroutine, so a UI
// hands it to its own thread), Cancel stops it at the next step boundary
// (writing a checkpoint when Options.CheckpointPath is set) and Wait returns
// the result.
type Job struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	last Event
	id   *Identifier
	err  error
}

// Start begins Train(ctx, base, images, opts, onEvent) in a new goroutine.
// onEvent may be nil; Latest reports the newest event either way.
func Start(ctx context.Context, base Base, images []string, opts Options, onEvent func(Event)) *Job {
	ctx, cancel := context.WithCancel(ctx)
	j := &Job{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(j.done)
		defer cancel()
		id, err := Train(ctx, base, images, opts, func(e Event) {
			j.mu.Lock()
			j.last = e
			j.mu.Unlock()
			if onEvent != nil {
				onEvent(e)
			}
		})
		j.mu.Lock()
		j.id, j.err = id, err
		j.mu.Unlock()
	}()
	return j
}

// Cancel asks the run to stop; Wait then returns context.Canceled.
func (j *Job) Cancel() { j.cancel() }

// Done is closed when the run has ended.
func (j *Job) Done() <-chan struct{} { return j.done }

// Latest returns the most recent progress event (zero before the first).
func (j *Job) Latest() Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.last
}

// Wait blocks until the run ends and returns its identifier or error.
func (j *Job) Wait() (*Identifier, error) {
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.id, j.err
}
