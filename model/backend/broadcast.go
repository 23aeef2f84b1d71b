package backend

import (
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// GoMLX's graph package broadcasts explicitly before binary ops, and its
// gradients do so on every step: the VJP of Mul and Div broadcasts the smaller
// operand to full size, the VJP of ReduceSum broadcasts the incoming gradient
// back over the reduced axes. On the pure-Go backend each of those is a
// full-size tensor written and read once more, over attention maps the size of
// the whole step's working set. simplego's binary ops broadcast axes of size 1
// themselves, so the builder hands them the small operand instead; the
// BroadcastInDim left without consumers is never executed.

// Add implements backends.Builder, reading size-1 broadcasts directly (see above).
func (b *goBuilder) Add(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(b.Builder.Add, lhs, rhs)
}

// Sub implements backends.Builder, reading size-1 broadcasts directly.
func (b *goBuilder) Sub(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(b.Builder.Sub, lhs, rhs)
}

// Mul implements backends.Builder, reading size-1 broadcasts directly.
func (b *goBuilder) Mul(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(b.Builder.Mul, lhs, rhs)
}

// Div implements backends.Builder, reading size-1 broadcasts directly.
func (b *goBuilder) Div(lhs, rhs backends.Op) (backends.Op, error) {
	return b.binary(b.Builder.Div, lhs, rhs)
}

// binary builds op on the operands, at most one of them unbroadcast: the
// other must keep the output's full shape.
func (b *goBuilder) binary(op func(lhs, rhs backends.Op) (backends.Op, error), lhs, rhs backends.Op) (backends.Op, error) {
	if u := b.unbroadcast(lhs, rhs); u != lhs {
		return op(u, rhs)
	}
	return op(lhs, b.unbroadcast(rhs, lhs))
}

// unbroadcast returns the operand of op when op is a BroadcastInDim that only
// stretches axes of size 1 (same rank, axes in order) and the other operand
// already has op's full shape, so the binary op's output shape is unchanged.
// Otherwise, or when simplego's node layout could not be verified, it returns
// op itself.
func (b *goBuilder) unbroadcast(op, other backends.Op) backends.Op {
	if !layoutVerified.Load() {
		return op
	}
	node, ok := op.(*simplego.Node)
	otherNode, ok2 := other.(*simplego.Node)
	if !ok || !ok2 {
		return op
	}
	m := mirror(node)
	if m.opType != backends.OpTypeBroadcastInDim || len(m.inputs) != 1 || !mirror(otherNode).shape.Equal(m.shape) {
		return op
	}
	axes, ok := m.data.([]int)
	in := mirror(m.inputs[0]).shape
	if !ok || in.Rank() != m.shape.Rank() || !slices.Equal(axes, identityAxes(in.Rank())) {
		return op
	}
	for i, d := range in.Dimensions {
		if d != 1 && d != m.shape.Dimensions[i] {
			return op
		}
	}
	return m.inputs[0]
}

func identityAxes(n int) []int {
	axes := make([]int, n)
	for i := range axes {
		axes[i] = i
	}
	return axes
}
