package sd

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The Go runtime's soft memory limit while generating. On the pure-Go
// backend every tensor, the weights included, lives on the Go heap, and
// simplego's buffer pools keep every freed buffer until a collection; with
// the runtime's default target (GOGC=100) a collection starts when the heap
// has doubled over what the last one left live, and 2.2 GB of SD 1.5
// weights let about as much garbage and pooled buffers pile up before one:
// the UNet's buffers were still held when the VAE decoder allocated its own.
// A soft limit a little above the weights and the estimated activations
// makes the collector run (and return freed pages to the system) when the
// heap reaches it instead. Other backends keep their tensors off the Go
// heap, which then stays far below the limit, so it costs them nothing.

// MemoryLimitSlack is the fixed part of the headroom Generate's limit
// leaves above the weights and 3/2 of the estimated activations, in bytes.
const MemoryLimitSlack = 256 << 20

// generationLimit is the soft memory limit Generate sets for n images of o
// (after defaults), in bytes: the larger of the model's weights and the
// heap live now, plus 3/2 of the estimated activations, plus
// MemoryLimitSlack. o.MemoryLimit > 0 is taken as is; < 0 gives 0, no limit.
//
// The live heap is what the last collection left, unless that exceeds the
// weights by more than MemoryLimitSlack: then it may hold a previous
// generation's pooled buffers (a sync.Pool's contents survive one
// collection), which would raise the limit by as much, so two collections
// drop them first and it is read again.
func (m *Model) generationLimit(o GenerateOptions, n int) int64 {
	switch {
	case o.MemoryLimit > 0:
		return o.MemoryLimit
	case o.MemoryLimit < 0:
		return 0
	}
	need := m.batchMemory(o, n)
	live := liveHeap()
	if live > need.Weights+MemoryLimitSlack {
		runtime.GC()
		runtime.GC()
		live = liveHeap()
	}
	return max(need.Weights, live) + need.Activations*3/2 + MemoryLimitSlack
}

// liveHeap is the heap the last garbage collection left live, in bytes.
func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(min(s[0].Value.Uint64(), math.MaxInt64))
}

// memLimit is the process's soft memory limit as the running generations
// hold it: one owner of the setting, so that overlapping generations (the
// window runs them in-process) restore it once, to what it was before the
// first.
var memLimit struct {
	sync.Mutex
	held  int64 // the sum of the running holders' limits
	users int
	saved int64 // the limit before the first holder
}

// holdMemoryLimit lowers the Go runtime's soft memory limit to n bytes (n <=
// 0: leaves it) and returns the function that undoes it. Overlapping holders
// get the sum of their limits (each counts the heap beside its own work, so
// the sum errs high); the limit is never raised above the one set before the
// first holder (GOMEMLIMIT or debug.SetMemoryLimit), and that one comes back
// when the last holder undoes.
func holdMemoryLimit(n int64) (restore func()) {
	if n <= 0 {
		return func() {}
	}
	memLimit.Lock()
	defer memLimit.Unlock()
	if memLimit.users == 0 {
		memLimit.saved = debug.SetMemoryLimit(-1) // -1 reads it
		memLimit.held = 0
	}
	memLimit.users++
	memLimit.held += n
	debug.SetMemoryLimit(min(memLimit.held, memLimit.saved))
	return sync.OnceFunc(func() {
		memLimit.Lock()
		defer memLimit.Unlock()
		memLimit.users--
		memLimit.held -= n
		if memLimit.users == 0 {
			debug.SetMemoryLimit(memLimit.saved)
			return
		}
		debug.SetMemoryLimit(min(memLimit.held, memLimit.saved))
	})
}
