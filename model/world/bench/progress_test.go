package bench

import (
	"testing"
	"time"
)

// TestMeterETA: time left is each kind's units left at that kind's measured
// speed, the overall speed for kinds not started.
func TestMeterETA(t *testing.T) {
	start := time.Unix(0, 0)
	m := &meter{plan: map[work]float64{workSample: 100, stepWork(MethodTI): 100}, total: 200,
		kindDone: map[work]float64{workSample: 50}, kindTime: map[work]time.Duration{workSample: 10 * time.Second},
		done: 50, start: start, last: start.Add(10 * time.Second)}
	// 0.2 s/unit everywhere so far: 50 + 100 units left -> 30 s.
	if got := m.eta(); got != 30*time.Second {
		t.Errorf("eta %v, want 30s", got)
	}
	// TI then runs 50 units in 50 s (1 s/unit): 50 x 0.2 + 50 x 1 = 60 s.
	m.kindDone[stepWork(MethodTI)], m.kindTime[stepWork(MethodTI)] = 50, 50*time.Second
	m.done, m.last = 100, start.Add(60*time.Second)
	if got := m.eta(); got != 60*time.Second {
		t.Errorf("eta %v, want 1m0s", got)
	}
}

// TestMeterSkip: work read from the cache counts as done, adds no time
// and leaves no work to price.
func TestMeterSkip(t *testing.T) {
	start := time.Now()
	m := &meter{plan: map[work]float64{workSample: 100, stepWork(MethodTI): 100}, total: 200,
		kindDone: map[work]float64{}, kindTime: map[work]time.Duration{}, kindSkip: map[work]float64{},
		start: start, last: start, report: func(Progress) {}}
	m.skip(stepWork(MethodTI), 100)
	m.skip(workSample, 50)
	if m.done != 150 || m.eta() != 0 {
		t.Errorf("after skips: done %g, eta %v; want 150 and 0 (nothing measured yet)", m.done, m.eta())
	}
	// 25 sampling units in 5 s: the other 25 left take 5 s more.
	m.kindDone[workSample], m.kindTime[workSample], m.done = 25, 5*time.Second, 175
	if got := m.eta(); got != 5*time.Second {
		t.Errorf("eta %v, want 5s", got)
	}
}

// TestPlannedUnits: the plan counts every kind of work of a run.
func TestPlannedUnits(t *testing.T) {
	o, err := Options{Actions: []string{"sit", "squat"}, Subjects: []Subject{{"cat", "red"}}, Images: 3, Steps: 10,
		Exemplars: 5, SampleSteps: 4}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	plan := plannedUnits(o)
	want := map[work]float64{
		workSample:            2 * 4 * 1 * 3 * (2 * 4), // actions x methods x subjects x images x guided steps
		workContrast:          2 * 5 * 2 * 2 * 12,      // actions x exemplars x negatives x 2 x img2img steps
		stepWork(MethodTI):    2 * 10 * 3,
		stepWork(MethodPPlus): 2 * 10 * 3,
		stepWork(MethodADI):   2 * 10 * 9,
	}
	for k, u := range want {
		if plan[k] != u {
			t.Errorf("%s: %g units, want %g", k, plan[k], u)
		}
	}
	if len(plan) != len(want) {
		t.Errorf("plan %v", plan)
	}
}
