package sd

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/safetensors"
	"kata/model/sd/sdtest"
)

// readWeights reads many tensors in parallel into the right slots, in
// half precision or widened as asked, and reports a file truncated under it
// as an error naming a tensor (wrapping ErrChanged), returning no tensors.
func TestReadWeights(t *testing.T) {
	const count, n = 24, 3000 // several tensors per goroutine, past a page each
	var list []safetensors.Tensor
	want := make([][]float32, count)
	for i := range count {
		want[i] = make([]float32, n)
		for j := range want[i] {
			want[i][j] = float32((i*7+j)%2048 - 1024) // integers of float16 range: exact
		}
		list = append(list, safetensors.F16Tensor(string(rune('a'+i)), []int{n}, want[i]))
	}
	p := filepath.Join(t.TempDir(), "w.safetensors")
	if err := safetensors.Write(p, list, nil); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reads := make([]weightRead, count)
	for i := range reads {
		reads[i] = weightRead{file: f, name: list[i].Name, shape: []int{n}, half: i%2 == 0, bytes: int64(i % 5)}
	}
	var calls []int
	values, err := readWeights(reads, nil, func(done, total int) { calls = append(calls, done) })
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != count+1 || calls[0] != 0 || calls[count] != count || !slices.IsSorted(calls) {
		t.Errorf("progress calls %v", calls)
	}
	for i, v := range values {
		got, err := weightValues(v)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want[i]) {
			t.Errorf("tensor %d (%s): wrong values", i, v.DType())
		}
		v.FinalizeAll()
	}

	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	values, err = readWeights(reads, nil, nil)
	if !errors.Is(err, safetensors.ErrChanged) || !strings.Contains(err.Error(), "tensor ") || values != nil {
		t.Errorf("truncated file: values %v, err %v", values, err)
	}
}

// weightValues widens a weight tensor (float32 or float16) to float32.
func weightValues(v *tensors.Tensor) ([]float32, error) {
	out := make([]float32, v.Shape().Size())
	err := v.ConstFlatData(func(flat any) {
		if f, ok := flat.([]float32); ok {
			copy(out, f)
			return
		}
		safetensors.HalfToFloat32(out, uint16s(flat))
	})
	return out, err
}

// TestDiffusersIdentity: a folder's identity without its weights is what
// Load reports (the UNet file's SHA-256, the VAE's scaling factor), and a
// folder that is not one, or lacks its UNet weights, is refused.
func TestDiffusersIdentity(t *testing.T) {
	m := tinyModel(t, "diffusers")
	sha, vae, err := DiffusersIdentity(sdtest.TinyDir())
	if err != nil {
		t.Fatal(err)
	}
	if sha != m.SHA256 || vae.ScalingFactor != m.VAE.ScalingFactor {
		t.Errorf("identity %s, scaling factor %g; Load reports %s, %g", sha, vae.ScalingFactor, m.SHA256, m.VAE.ScalingFactor)
	}
	noUNet := t.TempDir()
	if err := os.CopyFS(noUNet, os.DirFS(sdtest.TinyDir())); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors"} {
		if err := os.Remove(filepath.Join(noUNet, "unet", name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	for name, dir := range map[string]string{"not a folder of a model": t.TempDir(), "no UNet weights": noUNet} {
		if _, _, err := DiffusersIdentity(dir); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
