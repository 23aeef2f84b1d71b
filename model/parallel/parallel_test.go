package parallel

import (
	"errors"
	"sync/atomic"
	"testing"
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
