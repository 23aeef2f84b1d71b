package backend

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/safetensors"
)

// halfTensor makes a float16 or bfloat16 tensor from bits.
func halfTensor(t *testing.T, dtype dtypes.DType, bits []uint16, dims ...int) *tensors.Tensor {
	t.Helper()
	x := tensors.FromShape(shapes.Make(dtype, dims...))
	if err := x.MutableFlatData(func(flat any) { copy(uint16s(flat), bits) }); err != nil {
		t.Fatal(err)
	}
	return x
}

// TestConvertHalf checks the widening of f16/bf16 weights (exact, every f16
// bit pattern), the narrowing back (round to nearest even, as the safetensors
// writer does), and a product that reads a converted f16 weight against the
// same product of the widened values in float32, with the speed kernels on
// and off (the conversion runs either way).
func TestConvertHalf(t *testing.T) {
	backend, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	if !SupportsHalf(backend) {
		t.Fatal("SupportsHalf is false with Kata's executors installed")
	}
	all := make([]uint16, 1<<16)
	for i := range all {
		all[i] = uint16(i)
	}
	for _, c := range []struct {
		dtype dtypes.DType
		widen func(uint16) float32
	}{
		{dtypes.Float16, safetensors.Float16ToFloat32},
		{dtypes.BFloat16, safetensors.BFloat16ToFloat32},
	} {
		out, err := MustNewExec(backend, func(x *Node) *Node { return ConvertDType(x, dtypes.Float32) }).Exec(halfTensor(t, c.dtype, all, 1<<16))
		if err != nil {
			t.Fatalf("%s: %v", c.dtype, err)
		}
		got := tensors.MustCopyFlatData[float32](out[0])
		for i, h := range all {
			if want := c.widen(h); math.Float32bits(got[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(got[i]))) {
				t.Fatalf("%s %#x -> %g, want %g", c.dtype, h, got[i], want)
			}
		}
	}

	rng := rand.New(rand.NewPCG(3, 4))
	f32 := make([]float32, 70000)
	for i := range f32 {
		f32[i] = float32(rng.NormFloat64() * 100)
	}
	for _, c := range []struct {
		dtype  dtypes.DType
		narrow func(float32) uint16
	}{
		{dtypes.Float16, safetensors.Float32ToFloat16},
		{dtypes.BFloat16, safetensors.Float32ToBFloat16},
	} {
		out, err := MustNewExec(backend, func(x *Node) *Node { return ConvertDType(x, c.dtype) }).Exec(f32)
		if err != nil {
			t.Fatalf("%s: %v", c.dtype, err)
		}
		if err := out[0].ConstFlatData(func(flat any) {
			for i, h := range uint16s(flat) {
				if want := c.narrow(f32[i]); h != want {
					t.Fatalf("%s: %g -> %#x, want %#x", c.dtype, f32[i], h, want)
				}
			}
		}); err != nil {
			t.Fatal(err)
		}
	}

	// y = x W^T with W [96, 80] stored as f16, as model/sd's linear layers read it.
	x := randF32(rng, 33, 80)
	wf := make([]float32, 96*80)
	wh := make([]uint16, len(wf))
	for i := range wf {
		wh[i] = safetensors.Float32ToFloat16(float32(rng.Float64()*2 - 1))
		wf[i] = safetensors.Float16ToFloat32(wh[i])
	}
	product := func(x, w *Node) *Node {
		if w.DType() != dtypes.Float32 {
			w = ConvertDType(w, dtypes.Float32)
		}
		return DotGeneral(x, []int{1}, nil, w, []int{1}, nil)
	}
	want, err := MustNewExec(backend, product).Exec(x, tensors.FromFlatDataAndDimensions(wf, 96, 80))
	if err != nil {
		t.Fatal(err)
	}
	for _, on := range []bool{true, false} {
		restore := setKernels(on)
		got, err := MustNewExec(backend, product).Exec(x, halfTensor(t, dtypes.Float16, wh, 96, 80))
		restore()
		if err != nil {
			t.Fatalf("kernels %v: %v", on, err)
		}
		if err := compareFlat(tensors.MustCopyFlatData[float32](got[0]), tensors.MustCopyFlatData[float32](want[0])); err != nil {
			t.Errorf("kernels %v: f16 weight against its f32 widening: %v", on, err)
		}
	}
}
