package backend

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// goBackend is GoMLX's pure-Go backend with a Builder that fills the gaps Stable
// Diffusion training hits in GoMLX v0.26 (see ../shared/docs/GOMLX.md "Gaps"): Pad and
// Reverse are expressed with ops simplego implements, and ConvGeneral parameters
// are normalised so the convolution gradients (nil strides, empty kernel
// dilations) run. Everything else is the simplego backend itself.
type goBackend struct {
	backends.Backend
}

// newGo creates the pure-Go backend, with the fast kernels installed unless
// KATA_KERNELS=stock (see kernels.go) and every op checking for cancellation
// (interrupt.go).
func newGo() (backends.Backend, error) {
	installKernels()
	installCancelChecks() // see Watch
	// Ops run one at a time: simplego's parallel op scheduler has data races in
	// v0.26 (use counts read outside its lock, so a buffer can be recycled while
	// another op still reads it; seen with -race), and Kata's kernels spread each
	// large op over the cores themselves.
	inner, err := simplego.New("ops_sequential")
	if err != nil {
		return nil, fmt.Errorf("create pure-Go backend: %w", err)
	}
	return &goBackend{Backend: inner}, nil
}

// Builder implements backends.Backend.
func (b *goBackend) Builder(name string) backends.Builder {
	return &goBuilder{Builder: b.Backend.Builder(name)}
}

// goBuilder wraps simplego's Builder; the ops it returns are simplego's own.
type goBuilder struct {
	backends.Builder
}

// ConvGeneral normalises strides and dilations before handing the op to simplego:
// GoMLX's conv gradient passes nil strides (read as 0 by simplego) and empty kernel
// dilations (which make the dilated executor index out of range).
func (b *goBuilder) ConvGeneral(input, kernel backends.Op, axes backends.ConvolveAxesConfig,
	strides []int, paddings [][2]int, inputDilations, kernelDilations []int,
	channelGroupCount, batchGroupCount int) (backends.Op, error) {
	spatial := len(axes.InputSpatial)
	ones := func(v []int) []int {
		out := make([]int, spatial)
		for i := range out {
			out[i] = 1
			if i < len(v) && v[i] > 0 {
				out[i] = v[i]
			}
		}
		return out
	}
	if paddings == nil {
		paddings = make([][2]int, spatial)
	}
	out, err := b.Builder.ConvGeneral(input, kernel, axes, ones(strides), paddings, ones(inputDilations),
		ones(kernelDilations), max(channelGroupCount, 1), max(batchGroupCount, 1))
	if err == nil {
		fuseHalf(out, backends.OpTypeConvGeneral, input, kernel) // half.go
	}
	return out, err
}

// Pad implements backends.Builder.Pad (missing in simplego) with Reshape,
// BroadcastInDim, Concatenate and Slice. Negative start/end crop.
func (b *goBuilder) Pad(x, fillValue backends.Op, axesConfig ...backends.PadAxis) (backends.Op, error) {
	shape, err := b.OpShape(x)
	if err != nil {
		return nil, err
	}
	if len(axesConfig) > shape.Rank() {
		return nil, fmt.Errorf("Pad: %d axes configured for a rank-%d operand", len(axesConfig), shape.Rank())
	}
	out := x
	dims := slices.Clone(shape.Dimensions)
	fill := func(d []int) (backends.Op, error) {
		return b.BroadcastInDim(fillValue, shapes.Make(shape.DType, d...), nil)
	}
	for axis, cfg := range axesConfig {
		if cfg.Interior < 0 {
			return nil, fmt.Errorf("Pad: negative interior padding %d on axis %d", cfg.Interior, axis)
		}
		if cfg.Interior > 0 && dims[axis] > 1 {
			n := dims[axis]
			// [.., n, ..] -> [.., n, 1, ..] ++ fill [.., n, interior, ..] -> [.., n*(1+interior), ..] -> crop the tail.
			expanded := slices.Concat(dims[:axis], []int{n, 1}, dims[axis+1:])
			if out, err = b.Reshape(out, expanded...); err != nil {
				return nil, err
			}
			filler, err := fill(slices.Concat(dims[:axis], []int{n, cfg.Interior}, dims[axis+1:]))
			if err != nil {
				return nil, err
			}
			if out, err = b.Concatenate(axis+1, out, filler); err != nil {
				return nil, err
			}
			dims[axis] = n * (1 + cfg.Interior)
			if out, err = b.Reshape(out, dims...); err != nil {
				return nil, err
			}
			if out, dims, err = b.sliceAxis(out, dims, axis, 0, (n-1)*(1+cfg.Interior)+1); err != nil {
				return nil, err
			}
		}
		start, end := 0, dims[axis]
		if cfg.Start < 0 {
			start = -cfg.Start
		}
		if cfg.End < 0 {
			end += cfg.End
		}
		if start > end {
			return nil, fmt.Errorf("Pad: negative padding (%d, %d) removes more than the %d elements of axis %d",
				cfg.Start, cfg.End, dims[axis], axis)
		}
		if start != 0 || end != dims[axis] {
			if out, dims, err = b.sliceAxis(out, dims, axis, start, end); err != nil {
				return nil, err
			}
		}
		parts := make([]backends.Op, 0, 3)
		if cfg.Start > 0 {
			p, err := fill(slices.Concat(dims[:axis], []int{cfg.Start}, dims[axis+1:]))
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
		parts = append(parts, out)
		if cfg.End > 0 {
			p, err := fill(slices.Concat(dims[:axis], []int{cfg.End}, dims[axis+1:]))
			if err != nil {
				return nil, err
			}
			parts = append(parts, p)
		}
		if len(parts) > 1 {
			if out, err = b.Concatenate(axis, parts...); err != nil {
				return nil, err
			}
			dims[axis] += max(cfg.Start, 0) + max(cfg.End, 0)
		}
	}
	return out, nil
}

// sliceAxis slices [start, end) of one axis.
func (b *goBuilder) sliceAxis(x backends.Op, dims []int, axis, start, end int) (backends.Op, []int, error) {
	starts := make([]int, len(dims))
	limits := slices.Clone(dims)
	starts[axis], limits[axis] = start, end
	strides := make([]int, len(dims))
	for i := range strides {
		strides[i] = 1
	}
	out, err := b.Slice(x, starts, limits, strides)
	if err != nil {
		return nil, nil, err
	}
	dims = slices.Clone(dims)
	dims[axis] = end - start
	return out, dims, nil
}

// Reverse implements backends.Builder.Reverse (missing in simplego). Reversing
// adjacent axes together equals reversing their flattened index, so each run of
// adjacent reversed axes (a conv kernel's spatial axes) becomes one Gather along
// the merged axis: a single pass over the data (see execGatherF32).
func (b *goBuilder) Reverse(x backends.Op, axes ...int) (backends.Op, error) {
	shape, err := b.OpShape(x)
	if err != nil {
		return nil, err
	}
	dims := shape.Dimensions
	rank := len(dims)
	var rev []int
	for _, axis := range axes {
		if axis < 0 {
			axis += rank
		}
		if axis < 0 || axis >= rank {
			return nil, fmt.Errorf("Reverse: axis out of range for shape %s", shape)
		}
		if dims[axis] > 1 && !slices.Contains(rev, axis) {
			rev = append(rev, axis)
		}
	}
	slices.Sort(rev)
	out := x
	for i := 0; i < len(rev); {
		j := i + 1
		for j < len(rev) && rev[j] == rev[j-1]+1 {
			j++
		}
		first, last := rev[i], rev[j-1]
		merged := 1
		for a := first; a <= last; a++ {
			merged *= dims[a]
		}
		flat := slices.Concat(dims[:first], []int{merged}, dims[last+1:])
		if out, err = b.Reshape(out, flat...); err != nil {
			return nil, err
		}
		if out, err = b.reverseByGather(out, flat, first); err != nil {
			return nil, err
		}
		if out, err = b.Reshape(out, dims...); err != nil {
			return nil, err
		}
		i = j
	}
	return out, nil
}

// reverseByGather reverses one axis with Gather: output[.., i, ..] = x[.., n-1-i, ..].
func (b *goBuilder) reverseByGather(x backends.Op, dims []int, axis int) (backends.Op, error) {
	n := dims[axis]
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(n - 1 - i)
	}
	indices, err := b.Constant(idx, n, 1)
	if err != nil {
		return nil, err
	}
	sliceSizes := slices.Clone(dims)
	sliceSizes[axis] = 1
	offsetAxes := make([]int, 0, len(dims)-1)
	for i := range dims {
		if i != axis {
			offsetAxes = append(offsetAxes, i)
		}
	}
	return b.Gather(x, indices, 1, offsetAxes, []int{axis}, []int{axis}, sliceSizes, false)
}

// ConvertDType refuses float16 with an error unless Kata's executor for it is
// installed (half.go): simplego v0.26 panics in a worker goroutine (killing the
// process) when converting to or from it. Loaders then convert f16 weights to
// float32 on the host instead.
func (b *goBuilder) ConvertDType(x backends.Op, dtype dtypes.DType) (backends.Op, error) {
	shape, err := b.OpShape(x)
	if err != nil {
		return nil, err
	}
	if (dtype == dtypes.Float16 || shape.DType == dtypes.Float16) && !halfInstalled.Load() {
		return nil, fmt.Errorf("ConvertDType %s -> %s: float16 is not supported by the pure-Go backend; "+
			"convert to float32 on the host when loading", shape.DType, dtype)
	}
	return b.Builder.ConvertDType(x, dtype)
}
