package ui

import (
	"strings"
	"testing"
	"time"
)

func TestETA(t *testing.T) {
	e := eta{start: time.Now().Add(-10 * time.Second)}
	tests := []struct {
		done, total int
		want        time.Duration
	}{
		{0, 10, 0},                 // nothing finished: no estimate
		{5, 10, 10 * time.Second},  // half done in 10 s
		{1, 10, 90 * time.Second},  // 10 s per unit, 9 to go: rounded to minutes
		{2, 200, 17 * time.Minute}, // 5 s per unit, 198 to go = 16.5 min, rounded
		{10, 10, 0},                // finished
	}
	for _, tc := range tests {
		got := e.left(tc.done, tc.total)
		if d := got - tc.want; d < -time.Minute/2 || d > time.Minute/2 || (tc.want == 0) != (got == 0) {
			t.Errorf("left(%d, %d) = %v, want about %v", tc.done, tc.total, got, tc.want)
		}
	}
	if s := e.describe("Step", 5, 10); !strings.HasPrefix(s, "Step 5 of 10 · about 10s left") {
		t.Errorf("describe: %q", s)
	}
}

func TestThrottle(t *testing.T) {
	th := throttle{every: time.Hour}
	for i, tc := range []struct {
		done, total int
		want        bool
	}{
		{1, 10, true},  // the first report
		{2, 10, false}, // within the interval
		{9, 10, false},
		{10, 10, true}, // the last one always
	} {
		if got := th.due(tc.done, tc.total); got != tc.want {
			t.Errorf("report %d (%d of %d): due %v, want %v", i, tc.done, tc.total, got, tc.want)
		}
	}
	if th := (throttle{}); !th.due(1, 10) || !th.due(2, 10) {
		t.Error("a zero interval holds reports back")
	}
}
