package sd

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/safetensors"
)

// EnvWeights set to "f32" makes Load widen every weight to float32, whatever
// LoadOptions.Precision says: the previous behaviour, for comparisons (the
// benchmarks measure both in one run) and as a way back should a backend
// mishandle half-precision weights.
const EnvWeights = "KATA_WEIGHTS"

// Precisions accepted by LoadOptions.Precision.
const (
	PrecisionF32    = "f32"
	PrecisionStored = "stored"
)

// keepHalf reports whether Load keeps half-precision weights as stored.
func keepHalf(precision string) (bool, error) {
	switch precision {
	case "", PrecisionF32:
		return false, nil
	case PrecisionStored:
		return !strings.EqualFold(os.Getenv(EnvWeights), PrecisionF32), nil
	}
	return false, fmt.Errorf("unknown weights precision %q (want %q or %q)", precision, PrecisionF32, PrecisionStored)
}

// keepFloat32 names the weights that stay float32 in a half-precision model:
// the text encoder's embedding tables, which identifiers extend and which
// callers read as float32 (adi.TokenEmbeddingRows).
func keepFloat32(key string) bool {
	return strings.HasPrefix(key, ComponentText+"/") && strings.Contains(key, "embeddings.")
}

// readWeight reads one tensor of f as a weight of the given shape: F16 and
// BF16 as stored when half is set, anything else widened to float32. With a
// backend that has shared buffers the tensor is created there directly. The
// tensor's pages of the file's mapping are dropped from memory afterwards.
func readWeight(f *safetensors.File, name string, shape []int, half bool, be backends.Backend) (*tensors.Tensor, error) {
	info, _ := f.Info(name)
	dtype := dtypes.Float32
	switch {
	case half && info.DType == safetensors.F16:
		dtype = dtypes.Float16
	case half && info.DType == safetensors.BF16:
		dtype = dtypes.BFloat16
	}
	fill := func(flat any) error {
		if dtype == dtypes.Float32 {
			return f.Float32Into(name, flat.([]float32))
		}
		_, err := f.HalfInto(name, uint16s(flat))
		return err
	}
	t, err := newTensor(be, shapes.Make(dtype, shape...), fill)
	if err != nil {
		return nil, err
	}
	if err := f.Evict(name); err != nil {
		t.FinalizeAll()
		return nil, err
	}
	return t, nil
}

// newTensor makes a tensor of shape filled by fill (given the flat slice):
// in a shared buffer of be when it has them, else a host tensor.
func newTensor(be backends.Backend, shape shapes.Shape, fill func(flat any) error) (*tensors.Tensor, error) {
	if be != nil && be.HasSharedBuffers() {
		buf, flat, err := be.NewSharedBuffer(0, shape)
		if err != nil {
			return nil, fmt.Errorf("backend buffer %s: %w", shape, err)
		}
		if err := fill(flat); err != nil {
			_ = be.BufferFinalize(buf)
			return nil, err
		}
		return tensors.FromBuffer(be, buf)
	}
	t := tensors.FromShape(shape)
	var err error
	if e := t.MutableFlatData(func(flat any) { err = fill(flat) }); e != nil {
		return nil, e
	}
	if err != nil {
		t.FinalizeAll()
		return nil, err
	}
	return t, nil
}

// uint16s views a []float16.Float16 or []bfloat16.BFloat16 (uint16 underneath)
// as []uint16.
func uint16s(flat any) []uint16 {
	v := reflect.ValueOf(flat)
	if v.Kind() != reflect.Slice || v.Type().Elem().Kind() != reflect.Uint16 {
		panic("sd: not a 16-bit slice: " + v.Type().String())
	}
	return unsafe.Slice((*uint16)(v.UnsafePointer()), v.Len())
}
