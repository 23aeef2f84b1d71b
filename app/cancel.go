package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// CancelGrace is how long a sub-command may take to return after its
// context is cancelled (SIGINT, SIGTERM) before Main stops the process.
// Generation and training stop inside a step on the pure-Go backend
// (backend.Watch: the op running ends, the next is refused), so this is the
// backstop for one long op, for XLA (whose steps finish) and for work that
// does not watch its context. Everything Kata writes is atomic and the
// library survives a kill, so stopping then loses at most the unfinished step.
var CancelGrace = 5 * time.Second

// exitProcess ends the process; tests replace it.
var exitProcess = os.Exit

// runCancellable runs fn, and once ctx is cancelled gives it CancelGrace to
// return before it tells stderr and exits with status 130.
func runCancellable(ctx context.Context, name string, stderr io.Writer, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(CancelGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		fmt.Fprintf(stderr, "kata %s: cancelled; a step was still running after %v, stopping now (files are written atomically, nothing is half-written)\n", name, CancelGrace)
		exitProcess(130)
		return <-done // only reached when exitProcess returns (tests)
	}
}
