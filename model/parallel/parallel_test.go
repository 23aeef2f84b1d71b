package parallel

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		var hits = make([]atomic.Int32, n)
		if err := For(n, func(i int) error { hits[i].Add(1); return nil }); err != nil {
			t.Fatal(err)
		}
		for i := range hits {
			if h := hits[i].Load(); h != 1 {
				t.Fatalf("n=%d: index %d ran %d times", n, i, h)
			}
		}
	}
}

func TestForError(t *testing.T) {
	bad := errors.New("bad")
	var ran atomic.Int32
	err := For(10000, func(i int) error {
		ran.Add(1)
		if i == 3 {
			return bad
		}
		return nil
	})
	if !errors.Is(err, bad) {
		t.Fatalf("err = %v, want %v", err, bad)
	}
	if ran.Load() == 10000 {
		t.Error("every index ran after an error")
	}
}

func TestBlocks(t *testing.T) {
	for _, tc := range []struct{ n, block int }{{0, 4}, {1, 4}, {8, 4}, {9, 4}, {100, 1}} {
		covered := make([]atomic.Int32, tc.n)
		Blocks(tc.n, tc.block, func(lo, hi int) {
			if hi-lo > tc.block || hi <= lo {
				t.Errorf("n=%d block=%d: block [%d, %d)", tc.n, tc.block, lo, hi)
			}
			for i := lo; i < hi; i++ {
				covered[i].Add(1)
			}
		})
		for i := range covered {
			if c := covered[i].Load(); c != 1 {
				t.Fatalf("n=%d block=%d: index %d covered %d times", tc.n, tc.block, i, c)
			}
		}
	}
}

// TestForWidth checks that ForWidth runs width indices at once whatever
// GOMAXPROCS is (each index waits until width of them have started), and
// that width 1 runs them in order.
func TestForWidth(t *testing.T) {
	for _, width := range []int{2, 3, 8} {
		var started atomic.Int32
		all := make(chan struct{})
		err := ForWidth(width, width, func(i int) error {
			if started.Add(1) == int32(width) {
				close(all)
			}
			select {
			case <-all:
				return nil
			case <-time.After(10 * time.Second):
				return fmt.Errorf("index %d: the other %d never started", i, width-1)
			}
		})
		if err != nil {
			t.Errorf("width %d: %v", width, err)
		}
	}
	var order []int
	if err := ForWidth(5, 1, func(i int) error { order = append(order, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []int{0, 1, 2, 3, 4}) {
		t.Errorf("width 1 ran %v, want 0..4 in order", order)
	}
}
