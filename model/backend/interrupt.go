package backend

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	_ "unsafe" // go:linkname

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// ErrCancelled is the error a graph run on the pure-Go backend returns when
// the context given to Watch is done before its last op: the ops after the
// one running then do not run. Errors wrap it (errors.Is), and it wraps
// context.Canceled, so callers that handle a cancelled context handle it.
var ErrCancelled = fmt.Errorf("graph run stopped: %w", context.Canceled)

var (
	// cancelled counts, per simplego backend, the watched contexts that are
	// done; cancelledAny is their sum, so that an op's check is one atomic
	// load while nothing is cancelled.
	cancelledMu  sync.Mutex
	cancelled    = map[*simplego.Backend]int{}
	cancelledAny atomic.Int64

	wrapOnce sync.Once
	// cancelChecks is set once the executor tables hold the checks.
	cancelChecks atomic.Bool
)

// Watch makes the graphs b runs stop with ErrCancelled once ctx is done, at
// the next op they start (one op, e.g. a convolution, still runs to its end),
// until the returned stop is called; call it when the work ctx governs ends.
// On the pure-Go backend ops run one after another, so a long step (a UNet
// evaluation) ends within about one op of a cancellation instead of at the
// end of the step. On XLA, before the first New("go") and where the
// executor table could not be verified (see kernels.go), Watch does nothing
// and steps finish.
func Watch(ctx context.Context, b backends.Backend) (stop func()) {
	inner := simplegoOf(b)
	if inner == nil || ctx.Done() == nil || !cancelChecks.Load() {
		return func() {}
	}
	var (
		mu             sync.Mutex
		fired, stopped bool
	)
	mark := func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped && !fired {
			fired = true
			markCancelled(inner, 1)
		}
	}
	stopAfter := context.AfterFunc(ctx, mark)
	if ctx.Err() != nil {
		mark() // AfterFunc calls mark in a goroutine: the next op must see it
	}
	return func() {
		stopAfter()
		mu.Lock()
		defer mu.Unlock()
		if !stopped && fired {
			markCancelled(inner, -1)
		}
		stopped = true
	}
}

func markCancelled(b *simplego.Backend, delta int) {
	cancelledMu.Lock()
	defer cancelledMu.Unlock()
	if cancelled[b] += delta; cancelled[b] <= 0 {
		delete(cancelled, b)
	}
	cancelledAny.Add(int64(delta))
}

func isCancelled(b *simplego.Backend) bool {
	if cancelledAny.Load() == 0 {
		return false
	}
	cancelledMu.Lock()
	defer cancelledMu.Unlock()
	return cancelled[b] > 0
}

// simplegoOf returns the simplego backend under b, nil when b is another.
func simplegoOf(b backends.Backend) *simplego.Backend {
	switch b := b.(type) {
	case *goBackend:
		inner, _ := b.Backend.(*simplego.Backend)
		return inner
	case *simplego.Backend:
		return b
	}
	return nil
}

// installCancelChecks puts a cancellation check in front of every entry of
// simplego's executor tables, once, after the kernels were installed (so the
// checks wrap Kata's executors and GoMLX's alike), and only when the GoMLX
// version and layouts were verified (kernels.go). Like installKernels it runs
// at the first New("go"), before that backend runs any graph.
func installCancelChecks() {
	installKernels()
	if !layoutVerified.Load() {
		return
	}
	wrapOnce.Do(func() {
		for op, exec := range nodeExecutors {
			if exec != nil {
				nodeExecutors[op] = cancellable(exec)
			}
		}
		for op, exec := range multiOutputsNodeExecutors {
			if exec != nil {
				multiOutputsNodeExecutors[op] = cancellableMulti(exec)
			}
		}
		cancelChecks.Store(true)
		labelOps()
	})
}

func cancellable(exec nodeExecutor) nodeExecutor {
	return func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		if isCancelled(b) {
			return nil, ErrCancelled
		}
		return exec(b, node, inputs, owned)
	}
}

func cancellableMulti(exec multiOutputExecutor) multiOutputExecutor {
	return func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) ([]*simplego.Buffer, error) {
		if isCancelled(b) {
			return nil, ErrCancelled
		}
		return exec(b, node, inputs, owned)
	}
}

// multiOutputExecutor mirrors simplego's unexported multi-output executor
// function type.
type multiOutputExecutor func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) ([]*simplego.Buffer, error)

// multiOutputsNodeExecutors is simplego's table of multi-output executors
// (backends/simplego/exec.go), patched like nodeExecutors.
//
//go:linkname multiOutputsNodeExecutors github.com/gomlx/gomlx/backends/simplego.multiOutputsNodeExecutors
var multiOutputsNodeExecutors [backends.OpTypeLast]multiOutputExecutor
