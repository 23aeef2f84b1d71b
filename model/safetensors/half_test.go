package safetensors

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestHalfInto(t *testing.T) {
	// Enough values to span several pages, so that Evict drops whole pages.
	vals := make([]float32, 5000)
	for i := range vals {
		vals[i] = float32(math.Sin(float64(i))) * 3
	}
	vals[1], vals[2] = float32(math.Inf(-1)), 6e-8 // infinity, a subnormal half
	path := filepath.Join(t.TempDir(), "h.safetensors")
	if err := Write(path, []Tensor{
		F16Tensor("h", []int{50, 100}, vals),
		BF16Tensor("b", []int{5000}, vals),
		F32Tensor("f", []int{5000}, vals),
	}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cases := []struct {
		name  string
		dtype DType
		want  func(float32) uint16
	}{
		{"h", F16, Float32ToFloat16},
		{"b", BF16, Float32ToBFloat16},
	}
	for _, c := range cases {
		for pass := range 2 { // again after Evict: the pages fault back in
			dst := make([]uint16, len(vals))
			dt, err := f.HalfInto(c.name, dst)
			if err != nil || dt != c.dtype {
				t.Fatalf("%s: HalfInto = %s, %v", c.name, dt, err)
			}
			for i, v := range vals {
				if dst[i] != c.want(v) {
					t.Fatalf("%s pass %d: element %d is %#x, want %#x", c.name, pass, i, dst[i], c.want(v))
				}
			}
			if err := f.Evict(c.name); err != nil {
				t.Fatalf("%s: Evict: %v", c.name, err)
			}
		}
	}
	if _, err := f.HalfInto("f", make([]uint16, len(vals))); err == nil || !strings.Contains(err.Error(), "not F16 or BF16") {
		t.Errorf("F32 tensor: err = %v", err)
	}
	if _, err := f.HalfInto("h", make([]uint16, 3)); err == nil || !strings.Contains(err.Error(), "destination 3") {
		t.Errorf("short destination: err = %v", err)
	}
	if err := f.Evict("missing"); err == nil {
		t.Error("Evict of a missing tensor: no error")
	}
}

func TestHalfToFloat32(t *testing.T) {
	src := make([]uint16, 1<<16)
	for i := range src {
		src[i] = uint16(i)
	}
	dst := make([]float32, len(src))
	HalfToFloat32(dst, src)
	for i, h := range src {
		want := Float16ToFloat32(h)
		if math.Float32bits(dst[i]) != math.Float32bits(want) {
			t.Fatalf("%#x: %g, want %g", h, dst[i], want)
		}
	}
}

// Open (reads with pread, huge-page advice for large destinations) and
// Parse (copies from memory) give the same bits for every tensor, a large
// one spanning several 2 MiB pages included, wherever it lies in the file.
func TestRawReadPaths(t *testing.T) {
	big := make([]float32, 3<<20+7) // 6 MiB of F16, not a whole number of pages
	for i := range big {
		big[i] = float32(i%2000) - 1000
	}
	small := []float32{1, -2, 3.5}
	path := filepath.Join(t.TempDir(), "r.safetensors")
	if err := Write(path, []Tensor{
		F32Tensor("a", []int{3}, small),
		F16Tensor("big", []int{len(big)}, big),
		F32Tensor("z", []int{len(big)}, big),
	}, nil); err != nil {
		t.Fatal(err)
	}
	mapped, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	inMemory, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*File{mapped, inMemory} {
		h := make([]uint16, len(big))
		if _, err := f.HalfInto("big", h); err != nil {
			t.Fatal(err)
		}
		for i, v := range big {
			if h[i] != Float32ToFloat16(v) {
				t.Fatalf("%q: big[%d] = %#x, want %#x", f.Path(), i, h[i], Float32ToFloat16(v))
			}
		}
		for name, want := range map[string][]float32{"a": small, "z": big} {
			got := make([]float32, len(want))
			if err := f.Float32Into(name, got); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%q: %s differs", f.Path(), name)
			}
		}
	}
}
