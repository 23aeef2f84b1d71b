package adi

import (
	"fmt"
	"strings"

	"kata/model/sd"
)

// SplitMode says how the samples of one micro-batch (for ADI the anchor,
// positive and negative of each triple: 3 x BatchSize samples) reach the
// loss graph.
type SplitMode string

// Split modes. The activations the backward pass keeps grow with the samples
// of one execution, so SplitSamples bounds memory by one sample's; the
// gradients are the same either way (TestLossBatchPerSample).
const (
	// SplitAuto (the zero value) is SplitSamples: memory, not speed, decides
	// whether a run fits on a designer's GPU, and on the pure-Go backend the
	// kernels already use every core on one sample.
	SplitAuto SplitMode = ""
	// SplitSamples runs one sample per execution, one after another.
	SplitSamples SplitMode = "samples"
	// SplitBatch runs the whole micro-batch as one execution (one graph of
	// batch 3 x BatchSize for ADI): fewer launches, about three times the
	// activations of SplitSamples.
	SplitBatch SplitMode = "batch"
)

// MemoryOptions are the memory levers of a training run that live in the
// trainer (the XLA allocator's are model/backend.XLAOptions). The zero value
// is the default: SplitAuto, DefaultGCPercent, one graph for the
// text encoder and the UNet. The frozen VAE always runs
// once per exemplar (its posteriors are cached before the first step, see
// prepare).
type MemoryOptions struct {
	Split SplitMode
	// GCPercent is the Go garbage collector's target (as GOGC) while Train
	// runs on the pure-Go backend, whose tensors live on the Go heap: a
	// collection starts when the heap has grown by GCPercent percent over
	// what the last one left live, and the activations a pass frees wait in
	// simplego's buffer pools until a collection. With the runtime's 100 the
	// heap may grow to twice its live size before a collection. 0 (the
	// default) means DefaultGCPercent, < 0 leaves the runtime's setting, > 0
	// lowers it to that value. It only ever
	// lowers the process's setting (GOGC=off or a lower GOGC stay), is
	// process-wide while any run holds it, and is restored when the last
	// such run ends. Other backends keep tensors off the Go heap and ignore it.
	GCPercent int
	// TextApart runs the text encoder apart from the UNet of a sample (see
	// LossFunc.SetTextApart): the same gradient without the activations of
	// the text encoder's 16 runs (P+ and ADI) beside the UNet's, for a
	// second forward pass of the text encoder. The default (false) runs both
	// in one execution.
	TextApart bool
	// Concurrent is how many of a micro-batch's executions run at once when
	// it is split (SplitSamples: for ADI the anchor, positive and negative
	// of a triple); 1 runs them one after another. Each one running adds
	// one sample's activations. 0 (the default) is all of them on the
	// pure-Go backend when the latents are at most sd.SmallLatent a side, else
	// 1: a small model's graph keeps about 1.5 of 2 cores busy (its nodes
	// run one at a time), and running the triple's passes at once made 50
	// ADI steps on Kata World's architecture 1.7x faster (BenchmarkADI in
	// model/worldmodel; docs/PERFORMANCE.md, "Two graph executions at once"); SD 1.5's ops at 512 px already use every core,
	// and its activations are what bounds its memory.
	Concurrent int
}

// concurrent is the number of executions Concurrent asks for, on a pure-Go
// backend or not, with latents of the given side.
func (m MemoryOptions) concurrent(pureGo bool, side int) int {
	switch {
	case m.Concurrent > 0:
		return m.Concurrent
	case pureGo && side <= sd.SmallLatent:
		return 1 << 10 // all of them
	}
	return 1
}

// DefaultGCPercent is MemoryOptions.GCPercent's default: a pure-Go ADI step
// on SD 1.5 at 512 px peaked at 6.94 GB with it, 8.41 GB with the runtime's
// 100 (docs/PERFORMANCE.md, "Training memory at 512 px").
const DefaultGCPercent = 10

// gcPercent is the GC target the options ask for (-1: none).
func (m MemoryOptions) gcPercent() int {
	if m.GCPercent == 0 {
		return DefaultGCPercent
	}
	return m.GCPercent
}

// ParseSplitMode reads a SplitMode: "", "auto", "samples" or "batch".
func ParseSplitMode(s string) (SplitMode, error) {
	switch m := SplitMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "auto":
		return SplitAuto, nil
	case SplitAuto, SplitSamples, SplitBatch:
		return m, nil
	}
	return "", fmt.Errorf("split mode %q: want auto, samples or batch", s)
}

// samplesPerCall is the LossFunc split a mode asks for: 1 for one sample per
// execution, 0 for the whole batch.
func (m SplitMode) samplesPerCall() int {
	if m == SplitBatch {
		return 0
	}
	return 1
}

// SetSamplesPerCall makes Compute split a batch into executions of at most n
// samples (n <= 0: the whole batch in one execution). Each split compiles its
// own graph shape once.
func (lf *LossFunc) SetSamplesPerCall(n int) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	lf.perCall = max(n, 0)
}

// SetConcurrentCalls makes Compute run up to n of a split batch's executions
// at once (n <= 1: one after another). The results are the same; each
// execution running adds its activations to the memory in use.
func (lf *LossFunc) SetConcurrentCalls(n int) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	lf.concurrent = n
}
