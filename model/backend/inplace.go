package backend

import "github.com/gomlx/gomlx/backends/simplego"

// outputInPlace returns the output buffer of an elementwise op: the first of
// the candidate inputs that simplego lets the op overwrite (owned: no later op
// reads it) and that has the output's shape, marked as taken over (nil in
// inputs, as simplego's own executors do), or else a new buffer. Overwriting an
// operand saves the traffic of a fresh output on these memory-bound ops; it is
// only correct where each output element is computed from the same element of
// that operand (same index), which callers guarantee.
func outputInPlace(backend *simplego.Backend, n *nodeMirror, inputs []*simplego.Buffer, owned []bool, candidates ...int) (*simplego.Buffer, []float32, error) {
	for _, i := range candidates {
		if i >= len(owned) || i >= len(inputs) || !owned[i] || inputs[i] == nil {
			continue
		}
		shape, flat, ok := float32Flat(backend, inputs[i])
		if !ok || !shape.Equal(n.shape) || len(flat) != n.shape.Size() {
			continue
		}
		buf := inputs[i]
		inputs[i] = nil
		return buf, flat, nil
	}
	return newOutput(backend, n.shape)
}
