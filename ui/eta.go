package ui

import (
	"fmt"
	"sync"
	"time"
)

// eta estimates the time left of a job from its progress so far, assuming
// the remaining units take as long as the finished ones on average.
type eta struct{ start time.Time }

func newETA() eta { return eta{start: time.Now()} }

// left is the estimate after done of total units, rounded for display; zero
// until a unit has finished.
func (e eta) left(done, total int) time.Duration {
	if done <= 0 || total <= done {
		return 0
	}
	perUnit := time.Since(e.start) / time.Duration(done)
	return roundETA(perUnit * time.Duration(total-done))
}

// describe is the status line for a job at done of total units.
func (e eta) describe(what string, done, total int) string {
	if left := e.left(done, total); left > 0 {
		return fmt.Sprintf("%s %d of %d · about %s left", what, done, total, left)
	}
	return fmt.Sprintf("%s %d of %d", what, done, total)
}

// throttle passes at most one progress report per interval, and always the
// last one (done == total), so that a fast job (a model's tensors load by
// the thousand) does not queue a status update per unit on the UI goroutine.
type throttle struct {
	mu    sync.Mutex
	every time.Duration
	last  time.Time
}

// reportEvery is how often a throttled status line changes.
const reportEvery = 100 * time.Millisecond

// due says whether the report of done of total units should be shown.
func (t *throttle) due(done, total int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if done >= total || time.Since(t.last) >= t.every {
		t.last = time.Now()
		return true
	}
	return false
}
