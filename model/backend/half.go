package backend

import (
	"reflect"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

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
