package gcsetting

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestLowerPercent(t *testing.T) {
	defer debug.SetGCPercent(Percent())
	for _, tc := range []struct {
		name         string
		initial      int
		asks         []int // overlapping callers, in order; they undo in the same order
		during       []int // the setting after each caller has lowered it
		afterUndoing []int // the setting after each caller has undone
	}{
		{"lowers and restores", 100, []int{25}, []int{25}, []int{100}},
		{"never raises", 10, []int{25}, []int{10}, []int{10}},
		{"a disabled GC stays disabled", -1, []int{25}, []int{-1}, []int{-1}},
		{"negative leaves the setting", 100, []int{-1}, []int{100}, []int{100}},
		{"zero leaves the setting", 100, []int{0}, []int{100}, []int{100}},
		{"the lowest of overlapping callers holds, the first setting returns last", 100,
			[]int{25, 50, 10}, []int{25, 25, 10}, []int{10, 10, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetGCPercent(tc.initial)
			var undo []func()
			for i, p := range tc.asks {
				undo = append(undo, LowerPercent(p))
				if got := Percent(); got != tc.during[i] {
					t.Errorf("after caller %d asked %d: GC percent %d, want %d", i, p, got, tc.during[i])
				}
			}
			for i, u := range undo {
				u()
				u() // undoing twice is harmless
				if got := Percent(); got != tc.afterUndoing[i] {
					t.Errorf("after caller %d undid: GC percent %d, want %d", i, got, tc.afterUndoing[i])
				}
			}
		})
	}
}

// memoryLimitNow reads the Go runtime's soft memory limit without changing it.
func memoryLimitNow() int64 { return debug.SetMemoryLimit(-1) }

func TestHoldLimit(t *testing.T) {
	defer debug.SetMemoryLimit(memoryLimitNow())
	const none = math.MaxInt64
	for _, tc := range []struct {
		name         string
		initial      int64
		asks         []int64 // overlapping holders, in order; they undo in the same order
		during       []int64 // the limit after each holder has set it
		afterUndoing []int64 // the limit after each holder has undone
	}{
		{"sets and restores", none, []int64{3 << 30}, []int64{3 << 30}, []int64{none}},
		{"never raises a lower limit", 2 << 30, []int64{3 << 30}, []int64{2 << 30}, []int64{2 << 30}},
		{"lowers a higher limit", 8 << 30, []int64{3 << 30}, []int64{3 << 30}, []int64{8 << 30}},
		{"zero leaves the limit", none, []int64{0}, []int64{none}, []int64{none}},
		{"negative leaves the limit", 5 << 30, []int64{-1}, []int64{5 << 30}, []int64{5 << 30}},
		{"overlapping holders get the sum, the first limit returns last", none,
			[]int64{3 << 30, 1 << 30, 2 << 30}, []int64{3 << 30, 4 << 30, 6 << 30}, []int64{3 << 30, 2 << 30, none}},
		{"the sum is capped by the limit before", 5 << 30,
			[]int64{3 << 30, 3 << 30}, []int64{3 << 30, 5 << 30}, []int64{3 << 30, 5 << 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(tc.initial)
			var undo []func()
			for i, n := range tc.asks {
				undo = append(undo, HoldLimit(n))
				if got := memoryLimitNow(); got != tc.during[i] {
					t.Errorf("after holder %d asked %d: limit %d, want %d", i, n, got, tc.during[i])
				}
			}
			for i, u := range undo {
				u()
				u() // undoing twice is harmless
				if got := memoryLimitNow(); got != tc.afterUndoing[i] {
					t.Errorf("after holder %d undid: limit %d, want %d", i, got, tc.afterUndoing[i])
				}
			}
		})
	}
}
