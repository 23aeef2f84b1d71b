package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunCancellable(t *testing.T) {
	defer func(g time.Duration, e func(int)) { CancelGrace, exitProcess = g, e }(CancelGrace, exitProcess)
	CancelGrace = 50 * time.Millisecond
	exited := make(chan int, 1)
	release := make(chan struct{})
	exitProcess = func(code int) { exited <- code; close(release) }

	// A command that returns on cancellation is left alone.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out strings.Builder
	err := runCancellable(ctx, "x", &out, func() error { <-ctx.Done(); return ctx.Err() })
	if !errors.Is(err, context.Canceled) || out.Len() != 0 || len(exited) != 0 {
		t.Errorf("cooperative command: %v %q", err, out.String())
	}

	// One stuck in a step is stopped after the grace period.
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start := time.Now()
	runCancellable(ctx, "generate", &out, func() error { <-release; return nil })
	if code := <-exited; code != 130 {
		t.Errorf("exit code %d", code)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stopped after %v", el)
	}
	if !strings.Contains(out.String(), "kata generate: cancelled") {
		t.Errorf("message %q", out.String())
	}
}
