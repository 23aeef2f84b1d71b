package adi

import (
	"fmt"
	"strings"
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
// is the default: SplitAuto. The frozen VAE always runs once per exemplar
// (its posteriors are cached before the first step, see prepare).
type MemoryOptions struct {
	Split SplitMode
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
