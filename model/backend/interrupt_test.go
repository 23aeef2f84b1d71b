package backend

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// countDots counts, for the duration of the test, every DotGeneral the
// executor starts (in front of the cancellation check, so a refused one
// counts too), and calls the function in hook, if any, with the count
// before the product runs.
func countDots(t *testing.T, hook *atomic.Pointer[func(int64)]) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	prev := nodeExecutors[backends.OpTypeDotGeneral]
	nodeExecutors[backends.OpTypeDotGeneral] = func(b *simplego.Backend, node *simplego.Node, in []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		count := n.Add(1)
		if f := hook.Load(); f != nil {
			(*f)(count)
		}
		return prev(b, node, in, owned)
	}
	t.Cleanup(func() { nodeExecutors[backends.OpTypeDotGeneral] = prev })
	return &n
}

// TestCancellableStep: a long graph (a chain of matrix products, standing in
// for one UNet step) stops within a few ops of its context being cancelled,
// with ErrCancelled, and the backend runs the next graph to its end.
func TestCancellableStep(t *testing.T) {
	const chain, side = 400, 128
	b := newGoBackend(t)
	if !cancelChecks.Load() {
		t.Skip("no cancellation checks: GoMLX's executor table is not verified")
	}
	var hook atomic.Pointer[func(int64)]
	dots := countDots(t, &hook)
	exec, err := NewExec(b, func(x, w *Node) *Node {
		for range chain {
			x = Dot(x, w)
		}
		return x
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	x := make([]float32, side*side)
	eye := make([]float32, side*side)
	for i := range side {
		x[i*side+(i*7)%side] = float32(i)
		eye[i*side+i] = 1
	}
	run := func() ([]float32, error) {
		out, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, side, side), tensors.FromFlatDataAndDimensions(eye, side, side))
		if err != nil {
			return nil, err
		}
		return tensors.MustCopyFlatData[float32](out[0]), nil
	}

	for _, tc := range []struct {
		name   string
		cancel string // "before", "during" or "" (never)
	}{
		{"uncancelled", ""},
		{"cancelled during the step", "during"},
		{"cancelled before the step", "before"},
		{"after a cancelled step", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stop := Watch(ctx, b)
			defer stop()
			start := dots.Load()
			if tc.cancel == "before" {
				cancel()
			}
			if tc.cancel == "during" {
				// Cancelled from inside the third product, and waiting there for
				// Watch's goroutine to mark the backend, so the test does not
				// depend on how fast the chain runs against other goroutines.
				inner := simplegoOf(b)
				f := func(count int64) {
					if count-start == 3 {
						cancel()
						for !isCancelled(inner) {
							runtime.Gosched()
						}
					}
				}
				hook.Store(&f)
				defer hook.Store(nil)
			}
			got, err := run()
			ran := dots.Load() - start
			if tc.cancel == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ran != chain {
					t.Fatalf("%d products ran, the graph has %d", ran, chain)
				}
				for i := range x {
					if got[i] != x[i] {
						t.Fatalf("output[%d] = %v, want %v", i, got[i], x[i])
					}
				}
				return
			}
			if !errors.Is(err, ErrCancelled) {
				t.Fatalf("err %v, want ErrCancelled", err)
			}
			// The product running at the cancellation ends, the next is refused;
			// the rest do not start.
			if ran >= chain/2 {
				t.Errorf("%d of %d products ran after the cancellation", ran, chain)
			}
			if tc.cancel == "before" && ran != 1 {
				t.Errorf("%d products started, want only the refused one", ran)
			}
			if tc.cancel == "during" && ran != 3 {
				t.Errorf("%d products started, want 3 (the third refused)", ran)
			}
		})
	}
}

// TestWatchScope: a cancelled Watch of one backend does not stop another's
// graphs, and a stopped Watch leaves nothing behind.
func TestWatchScope(t *testing.T) {
	a, b := newGoBackend(t), newGoBackend(t)
	if !cancelChecks.Load() {
		t.Skip("no cancellation checks: GoMLX's executor table is not verified")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stop := Watch(ctx, a)
	add := func(g *Graph) *Node { return Add(Const(g, []float32{1, 2}), Const(g, []float32{3, 4})) }
	if _, err := ExecOnce(a, add); !errors.Is(err, ErrCancelled) {
		t.Errorf("watched backend: %v, want ErrCancelled", err)
	}
	if _, err := ExecOnce(b, add); err != nil {
		t.Errorf("other backend: %v", err)
	}
	stop()
	stop() // twice is harmless
	if _, err := ExecOnce(a, add); err != nil {
		t.Errorf("after stop: %v", err)
	}
	if n := cancelledAny.Load(); n != 0 {
		t.Errorf("%d cancellations left registered", n)
	}
}
