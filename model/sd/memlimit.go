package sd

import (
	"math"
	"runtime"
	"runtime/metrics"
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
const MemoryLimitSlack = 384 << 20

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
