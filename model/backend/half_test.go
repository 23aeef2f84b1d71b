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
}

// TestHalfWeightsFused checks products and convolutions whose weight is a
// float16 or bfloat16 tensor widened in the graph, as model/sd's layers read
// half-precision weights: the Builder lets the op read the weight directly
// (the ConvertDType node never runs) and the result equals the same op on
// the widened values, with Kata's kernels and with GoMLX's executors.
func TestHalfWeightsFused(t *testing.T) {
	backend, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	halfValues := func(dtype dtypes.DType, dims ...int) (*tensors.Tensor, *tensors.Tensor) {
		n := 1
		for _, d := range dims {
			n *= d
		}
		bits, wide := make([]uint16, n), make([]float32, n)
		for i := range bits {
			v := float32(rng.Float64()*2 - 1)
			if dtype == dtypes.BFloat16 {
				bits[i] = safetensors.Float32ToBFloat16(v)
				wide[i] = safetensors.BFloat16ToFloat32(bits[i])
			} else {
				bits[i] = safetensors.Float32ToFloat16(v)
				wide[i] = safetensors.Float16ToFloat32(bits[i])
			}
		}
		return halfTensor(t, dtype, bits, dims...), tensors.FromFlatDataAndDimensions(wide, dims...)
	}
	widen := func(w *Node) *Node {
		if w.DType() != dtypes.Float32 {
			return ConvertDType(w, dtypes.Float32)
		}
		return w
	}
	cases := []struct {
		name  string
		x     *tensors.Tensor
		wDims []int
		fn    func(x, w *Node) *Node
	}{
		// y = x W^T with W [96, 80], as model/sd's linear layers read it.
		{"linear", randF32(rng, 33, 80), []int{96, 80}, func(x, w *Node) *Node {
			return DotGeneral(x, []int{1}, nil, widen(w), []int{1}, nil)
		}},
		// W on the left.
		{"linear-lhs", randF32(rng, 33, 80), []int{96, 80}, func(x, w *Node) *Node {
			return DotGeneral(widen(w), []int{1}, nil, x, []int{1}, nil)
		}},
		// An NCHW 3x3 convolution with a [out, in, 3, 3] kernel, as conv2d.
		{"conv", randF32(rng, 2, 8, 9, 7), []int{12, 8, 3, 3}, func(x, w *Node) *Node {
			return Convolve(x, widen(w)).AxesConfig(nchwAxes).Strides(1).PadSame().Done()
		}},
	}
	for _, c := range cases {
		for _, dtype := range []dtypes.DType{dtypes.Float16, dtypes.BFloat16} {
			half, wide := halfValues(dtype, c.wDims...)
			want, err := MustNewExec(backend, c.fn).Exec(c.x, wide)
			if err != nil {
				t.Fatal(err)
			}
			for _, on := range []bool{true, false} {
				restore := setKernels(on)
				before := conversions.Load()
				got, err := MustNewExec(backend, c.fn).Exec(c.x, half)
				restore()
				if err != nil {
					t.Fatalf("%s %s kernels %v: %v", c.name, dtype, on, err)
				}
				if n := conversions.Load() - before; n != 0 {
					t.Errorf("%s %s kernels %v: %d ConvertDType nodes ran; the op should read the weight directly", c.name, dtype, on, n)
				}
				if err := compareFlat(tensors.MustCopyFlatData[float32](got[0]), tensors.MustCopyFlatData[float32](want[0])); err != nil {
					t.Errorf("%s %s kernels %v: against the widened weight: %v", c.name, dtype, on, err)
				}
			}
		}
	}
	// A conversion with another consumer still runs (and is exact).
	half, wide := halfValues(dtypes.Float16, 4, 5)
	before := conversions.Load()
	got, err := MustNewExec(backend, func(w *Node) *Node { return MulScalar(ConvertDType(w, dtypes.Float32), 2) }).Exec(half)
	if err != nil {
		t.Fatal(err)
	}
	if conversions.Load() == before {
		t.Error("a ConvertDType feeding a Mul did not run")
	}
	w := tensors.MustCopyFlatData[float32](wide)
	for i, v := range tensors.MustCopyFlatData[float32](got[0]) {
		if v != 2*w[i] {
			t.Fatalf("element %d: %g, want %g", i, v, 2*w[i])
		}
	}
}
