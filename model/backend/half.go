package backend

import (
	"reflect"
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"kata/model/backend/gemm"
	"kata/model/safetensors"
)

// Half-precision weights. simplego v0.26 panics (in a worker goroutine, killing
// the process) when it converts to or from float16, so a model had to hold an
// f32 copy of every f16 checkpoint weight: 3.4 GB for SD 1.5's UNet instead of
// 1.7 GB. Kata's ConvertDType executor widens float16 and bfloat16 to float32
// (and narrows back, rounding to nearest even) where a graph reads a weight, so
// models keep their weights as stored and only the weight an op is using
// exists in float32, for the duration of that op.

// halfInstalled reports that execConvertDType is in simplego's table: the
// Builder then lets float16 conversions through.
var halfInstalled atomic.Bool

// stockConvertDType is GoMLX's executor, kept apart from stockExecutors: there
// is nothing to compare with in the self-check (GoMLX's crashes on float16),
// the tests compare with exact conversions instead (half_test.go).
var stockConvertDType nodeExecutor

// conversions counts the ConvertDType nodes execConvertDType ran (tests check
// that products and convolutions bypass them).
var conversions atomic.Int64

// installHalf puts execConvertDType in simplego's executor table and lets
// simplego's Builder accept float16 parameters and constants (its
// Capabilities.DTypes lacks Float16 because its executors cannot convert it).
func installHalf() {
	op := backends.OpTypeConvertDType
	if nodeExecutors[op] == nil || simplego.Capabilities.DTypes == nil {
		return
	}
	stockConvertDType = nodeExecutors[op]
	nodeExecutors[op] = execConvertDType
	simplego.Capabilities.DTypes[dtypes.Float16] = true
	halfInstalled.Store(true)
}

// SupportsHalf reports whether graphs on b can read float16 and bfloat16
// weights (converting them to float32 where used): XLA always, the pure-Go
// backend with Kata's executors installed (not with KATA_KERNELS=stock).
func SupportsHalf(b backends.Backend) bool {
	if _, ok := b.(*goBackend); ok {
		return halfInstalled.Load()
	}
	return b != nil
}

// execConvertDType converts between float32 and float16/bfloat16; other
// conversions go to GoMLX's executor. It runs whether or not the speed
// kernels are switched on (UseKernels): it is a capability, not a kernel.
func execConvertDType(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	n := mirror(node)
	stock := stockConvertDType
	inShape, err := backend.BufferShape(inputs[0])
	if err != nil {
		return stock(backend, node, inputs, owned)
	}
	from, to := inShape.DType, n.shape.DType
	half := func(d dtypes.DType) bool { return d == dtypes.Float16 || d == dtypes.BFloat16 }
	if !(half(from) && to == dtypes.Float32) && !(from == dtypes.Float32 && half(to)) {
		return stock(backend, node, inputs, owned)
	}
	inFlat, err := backend.BufferData(inputs[0])
	if err != nil {
		return nil, err
	}
	conversions.Add(1)
	out := backend.NewBuffer(n.shape)
	outFlat, err := backend.BufferData(out)
	if err != nil {
		return nil, err
	}
	if from == dtypes.Float32 {
		src, dst := inFlat.([]float32), uint16s(outFlat)
		narrow := safetensors.Float32ToFloat16
		if to == dtypes.BFloat16 {
			narrow = safetensors.Float32ToBFloat16
		}
		parFlat(len(src), func(lo, hi int) {
			for i, v := range src[lo:hi] {
				dst[lo+i] = narrow(v)
			}
		})
		return out, nil
	}
	widenHalf(outFlat.([]float32), uint16s(inFlat), from)
	return out, nil
}

// widenHalf converts src (float16 or bfloat16 bits, as dtype says) to dst, on
// all cores for large inputs.
func widenHalf(dst []float32, src []uint16, dtype dtypes.DType) {
	parFlat(len(src), func(lo, hi int) {
		if dtype == dtypes.BFloat16 {
			d := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(dst[lo:hi]))), hi-lo)
			for i, h := range src[lo:hi] {
				d[i] = uint32(h) << 16
			}
			return
		}
		safetensors.HalfToFloat32(dst[lo:hi], src[lo:hi])
	})
}

// uint16s views a []float16.Float16 or []bfloat16.BFloat16 (both uint16
// underneath) as []uint16.
func uint16s(flat any) []uint16 {
	v := reflect.ValueOf(flat)
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Uint16 {
		panic("backend: not a 16-bit slice: " + v.Type().String())
	}
	return unsafe.Slice((*uint16)(v.UnsafePointer()), v.Len())
}

// Products and convolutions read half-precision weights directly. The
// Builder (fuseHalf) makes a DotGeneral or ConvGeneral whose operand is a
// float16/bfloat16 -> float32 ConvertDType take the conversion's input
// instead; the conversion node is then unused and never runs (simplego
// executes only the nodes an output needs). The executors hand such an
// operand to the GEMM as it is stored (gemm.HalfMatrix), which widens it
// while packing its panels, so no float32 copy of the weight exists at all
// (and none is kept in simplego's buffer pools between steps). Layouts the
// GEMM cannot view in place (operands that must be transposed first, a
// convolution's input) are widened into a float32 copy first.

// halfSource returns the float16/bfloat16 node that op widens to float32 when
// op is such a ConvertDType node, else nil.
func halfSource(op backends.Op) *simplego.Node {
	node, ok := op.(*simplego.Node)
	if !ok || !halfInstalled.Load() || !layoutVerified.Load() {
		return nil
	}
	n := mirror(node)
	if n.opType != backends.OpTypeConvertDType || n.shape.DType != dtypes.Float32 || len(n.inputs) != 1 {
		return nil
	}
	if d := mirror(n.inputs[0]).shape.DType; d != dtypes.Float16 && d != dtypes.BFloat16 {
		return nil
	}
	return n.inputs[0]
}

// fuseHalf rewires the opType node that result is (or reshapes, as
// simplego's DotGeneral returns) to read operands that are ConvertDType
// nodes of half-precision values from their input directly.
func fuseHalf(result backends.Op, opType backends.OpType, operands ...backends.Op) {
	node, ok := result.(*simplego.Node)
	if !ok || !layoutVerified.Load() {
		return
	}
	n := mirror(node)
	if n.opType == backends.OpTypeReshape && len(n.inputs) == 1 {
		n = mirror(n.inputs[0])
	}
	if n.opType != opType {
		return
	}
	for i, in := range n.inputs {
		for _, op := range operands {
			if src := halfSource(op); src != nil && backends.Op(in) == op {
				n.inputs[i] = src
			}
		}
	}
}

// DotGeneral implements backends.Builder.DotGeneral, reading operands
// converted from half precision as stored (see fuseHalf).
func (b *goBuilder) DotGeneral(lhs backends.Op, lhsContracting, lhsBatch []int, rhs backends.Op, rhsContracting, rhsBatch []int) (backends.Op, error) {
	out, err := b.Builder.DotGeneral(lhs, lhsContracting, lhsBatch, rhs, rhsContracting, rhsBatch)
	if err == nil {
		fuseHalf(out, backends.OpTypeDotGeneral, lhs, rhs)
	}
	return out, err
}

// operand is a DotGeneral or ConvGeneral input as the GEMM reads it: float32
// values, or float16/bfloat16 bits that the GEMM widens while packing.
type operand struct {
	f32    []float32
	half   []uint16
	format gemm.Format
}

// operandOf returns a buffer's shape and its data as an operand, without a
// copy; ok is false for dtypes other than float32, float16 and bfloat16.
func operandOf(backend *simplego.Backend, buf *simplego.Buffer) (shapes.Shape, operand, bool) {
	shape, data, ok := float32Flat(backend, buf)
	if ok {
		return shape, operand{f32: data}, true
	}
	format := gemm.Float16
	switch shape.DType {
	case dtypes.Float16:
	case dtypes.BFloat16:
		format = gemm.BFloat16
	default:
		return shape, operand{}, false
	}
	flat, err := backend.BufferData(buf)
	if err != nil {
		return shape, operand{}, false
	}
	return shape, operand{half: uint16s(flat), format: format}, true
}

// matrix views the operand as a strided matrix.
func (o operand) matrix(offset, rowStride, colStride int) gemm.Matrix {
	if o.format == gemm.Float32 {
		return gemm.Matrix{Data: o.f32, Offset: offset, RowStride: rowStride, ColStride: colStride}
	}
	return gemm.HalfMatrix(o.half, o.format, offset, rowStride, colStride)
}

// widened returns the values as float32 and a function to call once they
// are no longer read: the data itself for float32, a widened copy in a
// pooled scratch buffer (getScratch) for half precision.
func (o operand) widened() (data []float32, release func()) {
	if o.format == gemm.Float32 {
		return o.f32, func() {}
	}
	dtype := dtypes.Float16
	if o.format == gemm.BFloat16 {
		dtype = dtypes.BFloat16
	}
	data = getScratch(len(o.half))
	widenHalf(data, o.half, dtype)
	return data, func() { putScratch(data) }
}

// operandF32 returns a buffer's shape and its values as float32: the buffer's
// own data for float32, a widened copy in a pooled scratch buffer for
// float16/bfloat16 (release returns it; call it once the op is done). ok is
// false for other dtypes.
func operandF32(backend *simplego.Backend, buf *simplego.Buffer) (shape shapes.Shape, data []float32, release func(), ok bool) {
	shape, o, ok := operandOf(backend, buf)
	if !ok {
		return shape, nil, func() {}, false
	}
	data, release = o.widened()
	return shape, data, release, true
}

// stockWithHalf runs GoMLX's executor on a node whose operands may be half
// precision read directly (fuseHalf): those are widened into float32 buffers
// first, as the ConvertDType the Builder bypassed would have.
func stockWithHalf(stock nodeExecutor, backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
	converted := slices.Clone(inputs)
	var temps []*simplego.Buffer
	defer func() {
		for _, t := range temps {
			_ = backend.BufferFinalize(t)
		}
	}()
	for i, in := range inputs {
		shape, err := backend.BufferShape(in)
		if err != nil || (shape.DType != dtypes.Float16 && shape.DType != dtypes.BFloat16) {
			continue
		}
		flat, err := backend.BufferData(in)
		if err != nil {
			return nil, err
		}
		wide := shape.Clone()
		wide.DType = dtypes.Float32
		t, data, err := newOutput(backend, wide)
		if err != nil {
			return nil, err
		}
		widenHalf(data, uint16s(flat), shape.DType)
		converted[i] = t
		temps = append(temps, t)
	}
	if len(temps) == 0 {
		return stock(backend, node, inputs, owned)
	}
	// The widened copies are this call's own, the half inputs are not owned
	// by it: nothing may be written over.
	return stock(backend, node, converted, make([]bool, len(inputs)))
}
