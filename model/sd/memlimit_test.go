package sd

import (
	gocontext "context"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
)

// memoryLimitNow reads the Go runtime's soft memory limit without changing it.
func memoryLimitNow() int64 { return debug.SetMemoryLimit(-1) }

func TestHoldMemoryLimit(t *testing.T) {
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
				undo = append(undo, holdMemoryLimit(n))
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

// TestGenerateMemoryLimit checks the limit Generate holds while it runs (read
// in OnStep) for each GenerateOptions.MemoryLimit, that it restores the one
// before, and that the limit does not change the image: collections only
// free and reuse buffers.
func TestGenerateMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(memoryLimitNow())
	const before = 64 << 30
	p, err := NewPipeline(fixtureBackend(t), tinyModel(t, "diffusers"))
	if err != nil {
		t.Fatal(err)
	}
	base := GenerateOptions{Prompt: "a red cube", Negative: "blurry", Steps: 2, CFG: 7.5, Seed: 3}
	o, err := p.defaults(base)
	if err != nil {
		t.Fatal(err)
	}
	need := p.Model.batchMemory(o, 1)
	floor := need.Weights + need.Activations*3/2 + MemoryLimitSlack
	var ref []float32
	for _, tc := range []struct {
		name     string
		limit    int64
		min, max int64 // the limit wanted during the generation
	}{
		{"runtime's", -1, before, before},
		{"sized", 0, floor, before - 1},
		{"explicit", 3 << 30, 3 << 30, 3 << 30},
		{"tight", 1, 1, 1}, // a collection at every allocation that grows the heap
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(before)
			opts := base
			opts.MemoryLimit = tc.limit
			var during []int64
			opts.OnStep = func(int, int, []float32) { during = append(during, memoryLimitNow()) }
			res, err := p.Generate(gocontext.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, got := range during {
				if got < tc.min || got > tc.max {
					t.Errorf("step %d: limit %d, want %d..%d", i+1, got, tc.min, tc.max)
				}
			}
			if got := memoryLimitNow(); got != before {
				t.Errorf("after Generate: limit %d, want %d restored", got, before)
			}
			if ref == nil {
				ref = res.Decoded
			} else if !slices.Equal(res.Decoded, ref) {
				t.Errorf("the image differs from the one made under the runtime's limit")
			}
		})
	}
}

// TestGenerationLimitDropsPools checks that buffers a sync.Pool still holds
// from an earlier generation do not raise the limit the next one gets.
func TestGenerationLimitDropsPools(t *testing.T) {
	m := tinyModel(t, "diffusers")
	p, err := NewPipeline(fixtureBackend(t), m)
	if err != nil {
		t.Fatal(err)
	}
	o, err := p.defaults(GenerateOptions{Prompt: "a red cube", CFG: 7.5})
	if err != nil {
		t.Fatal(err)
	}
	const pooled = 256 << 20
	var pool sync.Pool
	pool.Put(make([]byte, pooled))
	runtime.GC() // the buffer moves to the pool's victim cache and stays live
	live := liveHeap()
	if live < pooled {
		t.Fatalf("live heap %d after pooling %d bytes", live, pooled)
	}
	need := m.batchMemory(o, 1)
	got := m.generationLimit(o, 1)
	if withPool := max(need.Weights, live) + need.Activations*3/2 + MemoryLimitSlack; got > withPool-pooled/2 {
		t.Errorf("limit %d counts the pooled buffer (%d with it)", got, withPool)
	}
	runtime.KeepAlive(&pool)
	if floor := need.Weights + need.Activations*3/2 + MemoryLimitSlack; got < floor {
		t.Errorf("limit %d below weights + 3/2 activations + slack %d", got, floor)
	}
}
