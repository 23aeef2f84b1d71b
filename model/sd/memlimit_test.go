package sd

import (
	gocontext "context"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"
)

// memoryLimitNow reads the Go runtime's soft memory limit without changing it.
func memoryLimitNow() int64 { return debug.SetMemoryLimit(-1) }

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
	const pooled = MemoryLimitSlack + 128<<20 // more than the slack, so that it counts
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
