package gcsetting

import (
	"math"
	"runtime/debug"
	"testing"
)

// overlapCase is one table row of overlapping holders of a setting.
type overlapCase[T int | int64] struct {
	name         string
	initial      T
	asks         []T // overlapping holders, in order; they undo in the same order
	during       []T // the setting after each holder has set it
	afterUndoing []T // the setting after each holder has undone
}

// testOverlapping runs the table against a setting: set puts the initial
// value in place, hold is the function under test, read reads the setting.
func testOverlapping[T int | int64](t *testing.T, cases []overlapCase[T], set func(T), hold func(T) func(), read func() T) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.initial)
			var undo []func()
			for i, v := range tc.asks {
				undo = append(undo, hold(v))
				if got := read(); got != tc.during[i] {
					t.Errorf("after holder %d asked %d: setting %d, want %d", i, v, got, tc.during[i])
				}
			}
			for i, u := range undo {
				u()
				u() // undoing twice is harmless
				if got := read(); got != tc.afterUndoing[i] {
					t.Errorf("after holder %d undid: setting %d, want %d", i, got, tc.afterUndoing[i])
				}
			}
		})
	}
}

func TestLowerPercent(t *testing.T) {
	defer debug.SetGCPercent(Percent())
	testOverlapping(t, []overlapCase[int]{
		{"lowers and restores", 100, []int{25}, []int{25}, []int{100}},
		{"never raises", 10, []int{25}, []int{10}, []int{10}},
		{"a disabled GC stays disabled", -1, []int{25}, []int{-1}, []int{-1}},
		{"negative leaves the setting", 100, []int{-1}, []int{100}, []int{100}},
		{"zero leaves the setting", 100, []int{0}, []int{100}, []int{100}},
		{"the lowest of overlapping callers holds, the first setting returns last", 100,
			[]int{25, 50, 10}, []int{25, 25, 10}, []int{10, 10, 100}},
	}, func(p int) { debug.SetGCPercent(p) }, LowerPercent, Percent)
}

func TestHoldLimit(t *testing.T) {
	memoryLimitNow := func() int64 { return debug.SetMemoryLimit(-1) } // -1 reads it
	defer debug.SetMemoryLimit(memoryLimitNow())
	const none = math.MaxInt64
	testOverlapping(t, []overlapCase[int64]{
		{"sets and restores", none, []int64{3 << 30}, []int64{3 << 30}, []int64{none}},
		{"never raises a lower limit", 2 << 30, []int64{3 << 30}, []int64{2 << 30}, []int64{2 << 30}},
		{"lowers a higher limit", 8 << 30, []int64{3 << 30}, []int64{3 << 30}, []int64{8 << 30}},
		{"zero leaves the limit", none, []int64{0}, []int64{none}, []int64{none}},
		{"negative leaves the limit", 5 << 30, []int64{-1}, []int64{5 << 30}, []int64{5 << 30}},
		{"overlapping holders get the sum, the first limit returns last", none,
			[]int64{3 << 30, 1 << 30, 2 << 30}, []int64{3 << 30, 4 << 30, 6 << 30}, []int64{3 << 30, 2 << 30, none}},
		{"the sum is capped by the limit before", 5 << 30,
			[]int64{3 << 30, 3 << 30}, []int64{3 << 30, 5 << 30}, []int64{3 << 30, 5 << 30}},
	}, func(n int64) { debug.SetMemoryLimit(n) }, HoldLimit, memoryLimitNow)
}
