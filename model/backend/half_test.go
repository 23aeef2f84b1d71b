package backend

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/backend/gemm"
	"kata/model/safetensors"
)

// halfTensor makes a float16 or bfloat16 tensor from bits.
func halfTensor(t testing.TB, dtype dtypes.DType, bits []uint16, dims ...int) *tensors.Tensor {
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

// halfAndWide returns a float16 or bfloat16 tensor of random values in
// [-1, 1) and the float32 tensor of the same values, widened.
func halfAndWide(t testing.TB, rng *rand.Rand, dtype dtypes.DType, dims ...int) (half, wide *tensors.Tensor) {
	t.Helper()
	n := 1
	for _, d := range dims {
		n *= d
	}
	bits, values := make([]uint16, n), make([]float32, n)
	for i := range bits {
		v := float32(rng.Float64()*2 - 1)
		if dtype == dtypes.BFloat16 {
			bits[i] = safetensors.Float32ToBFloat16(v)
			values[i] = safetensors.BFloat16ToFloat32(bits[i])
		} else {
			bits[i] = safetensors.Float32ToFloat16(v)
			values[i] = safetensors.Float16ToFloat32(bits[i])
		}
	}
	return halfTensor(t, dtype, bits, dims...), tensors.FromFlatDataAndDimensions(values, dims...)
}

// widen converts a half-precision weight to float32 in the graph, as
// model/sd's param does; float32 weights pass through.
func widen(w *Node) *Node {
	if w.DType() != dtypes.Float32 {
		return ConvertDType(w, dtypes.Float32)
	}
	return w
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
		return halfAndWide(t, rng, dtype, dims...)
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

// TestHalfWeightsBitIdentical checks that Kata's DotGeneral and ConvGeneral
// executors, which hand a half-precision weight to the GEMM as stored (it
// widens the panels while packing them), give bit for bit the result of the
// same op on the widened float32 weight, for weight layouts the GEMM views in
// place (both orientations, batched, narrow outputs) and layouts widened
// before a transposition.
func TestHalfWeightsBitIdentical(t *testing.T) {
	backend, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	if gemm.Kernel() == "go" {
		t.Skip("no SIMD micro-kernel: DotGeneral stays with GoMLX's executor")
	}
	defer setKernels(true)()
	rng := rand.New(rand.NewPCG(9, 10))
	hwio := ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 3, KernelInputChannels: 2, KernelSpatial: []int{0, 1},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	iohw := ConvolveAxesConfig{
		InputBatch: 0, InputChannels: 1, InputSpatial: []int{2, 3},
		KernelOutputChannels: 1, KernelInputChannels: 0, KernelSpatial: []int{2, 3},
		OutputBatch: 0, OutputChannels: 1, OutputSpatial: []int{2, 3},
	}
	cases := []struct {
		name  string
		x     *tensors.Tensor
		wDims []int
		fn    func(x, w *Node) *Node
	}{
		// x W^T, W [out, in] (model/sd's linear): B's columns contiguous.
		{"linear", randF32(rng, 37, 300), []int{70, 300}, func(x, w *Node) *Node {
			return DotGeneral(x, []int{1}, nil, widen(w), []int{1}, nil)
		}},
		// x W, W [in, out]: B's rows contiguous.
		{"linear-in-out", randF32(rng, 37, 300), []int{300, 70}, func(x, w *Node) *Node {
			return DotGeneral(x, []int{1}, nil, widen(w), []int{0}, nil)
		}},
		{"linear-lhs", randF32(rng, 37, 300), []int{70, 300}, func(x, w *Node) *Node {
			return DotGeneral(widen(w), []int{1}, nil, x, []int{1}, nil)
		}},
		// Two tokens (the time embedding under CFG): the narrow path.
		{"linear-narrow", randF32(rng, 2, 300), []int{70, 300}, func(x, w *Node) *Node {
			return DotGeneral(x, []int{1}, nil, widen(w), []int{1}, nil)
		}},
		{"batched", randF32(rng, 3, 21, 17), []int{3, 17, 25}, func(x, w *Node) *Node {
			return DotGeneral(x, []int{2}, []int{0}, widen(w), []int{1}, []int{0})
		}},
		// Contracting axes that do not merge: widened, then transposed.
		{"transposed", randF32(rng, 9, 4, 6), []int{4, 11, 6}, func(x, w *Node) *Node {
			return DotGeneral(x, []int{1, 2}, nil, widen(w), []int{0, 2}, nil)
		}},
		{"conv-oihw", randF32(rng, 2, 8, 9, 7), []int{12, 8, 3, 3}, func(x, w *Node) *Node {
			return Convolve(x, widen(w)).AxesConfig(nchwAxes).Strides(1).PadSame().Done()
		}},
		// Four output channels (the UNet's conv_out): the narrow path.
		{"conv-narrow", randF32(rng, 2, 8, 9, 7), []int{4, 8, 3, 3}, func(x, w *Node) *Node {
			return Convolve(x, widen(w)).AxesConfig(nchwAxes).Strides(1).PadSame().Done()
		}},
		{"conv-hwio", randF32(rng, 2, 8, 9, 7), []int{3, 3, 8, 12}, func(x, w *Node) *Node {
			return Convolve(x, widen(w)).AxesConfig(hwio).Strides(2).PadSame().Done()
		}},
		// [in, out, h, w]: not a matrix view, widened with the transposition.
		{"conv-iohw", randF32(rng, 2, 8, 9, 7), []int{8, 12, 3, 3}, func(x, w *Node) *Node {
			return Convolve(x, widen(w)).AxesConfig(iohw).Strides(1).PadSame().Done()
		}},
	}
	for _, c := range cases {
		for _, dtype := range []dtypes.DType{dtypes.Float16, dtypes.BFloat16} {
			half, wide := halfAndWide(t, rng, dtype, c.wDims...)
			want, err := MustNewExec(backend, c.fn).Exec(c.x, wide)
			if err != nil {
				t.Fatal(err)
			}
			conv, fast, fallback := conversions.Load(), fastCalls.Load(), fallbacks.Load()
			got, err := MustNewExec(backend, c.fn).Exec(c.x, half)
			if err != nil {
				t.Fatalf("%s %s: %v", c.name, dtype, err)
			}
			if conversions.Load() != conv || fastCalls.Load() == fast || fallbacks.Load() != fallback {
				t.Errorf("%s %s: %d conversions, %d fast calls, %d fallbacks; want 0, > 0, 0", c.name, dtype,
					conversions.Load()-conv, fastCalls.Load()-fast, fallbacks.Load()-fallback)
			}
			g, w := tensors.MustCopyFlatData[float32](got[0]), tensors.MustCopyFlatData[float32](want[0])
			for i := range w {
				if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
					t.Errorf("%s %s: element %d = %g, widen-first %g", c.name, dtype, i, g[i], w[i])
					break
				}
			}
		}
	}
}

// BenchmarkHalfWeights reports GFLOP/s of SD 1.5 convolutions (batch 2 as
// under CFG, 256 px latents, [out, in, 3, 3] kernels) and a linear layer
// through Kata's executors with the weight in float32 and in float16 and
// bfloat16 (read as stored and widened by the GEMM's packing), side by side.
func BenchmarkHalfWeights(b *testing.B) {
	backend := newGoBackend(b)
	rng := rand.New(rand.NewPCG(11, 12))
	conv := func(x, w *Node) *Node {
		return Convolve(x, widen(w)).AxesConfig(nchwAxes).Strides(1).PadSame().Done()
	}
	cases := []struct {
		name  string
		x     *tensors.Tensor
		wDims []int
		flops float64
		fn    func(x, w *Node) *Node
	}{
		{"conv-3x3-c320-32x32", randF32(rng, 2, 320, 32, 32), []int{320, 320, 3, 3}, 2 * 2 * 1024 * 2880 * 320, conv},
		{"conv-3x3-c640-16x16", randF32(rng, 2, 640, 16, 16), []int{640, 640, 3, 3}, 2 * 2 * 256 * 5760 * 640, conv},
		{"conv-3x3-c1280-8x8", randF32(rng, 2, 1280, 8, 8), []int{1280, 1280, 3, 3}, 2 * 2 * 64 * 11520 * 1280, conv},
		{"linear-1024x640x2560", randF32(rng, 1024, 640), []int{2560, 640}, 2 * 1024 * 640 * 2560, func(x, w *Node) *Node {
			return DotGeneral(x, []int{1}, nil, widen(w), []int{1}, nil)
		}},
	}
	defer setKernels(true)()
	for _, c := range cases {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float16, dtypes.BFloat16} {
			b.Run(fmt.Sprintf("%s/%s", c.name, dtype), func(b *testing.B) {
				w := randF32(rng, c.wDims...)
				if dtype != dtypes.Float32 {
					w, _ = halfAndWide(b, rng, dtype, c.wDims...)
				}
				exec := MustNewExec(backend, c.fn)
				run := func() {
					outs, err := exec.Exec(c.x, w)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						o.FinalizeAll()
					}
				}
				run() // compile and warm up
				for b.Loop() {
					run()
				}
				b.ReportMetric(c.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
