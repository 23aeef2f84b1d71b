package sd

import (
	"errors"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"kata/model/safetensors"
)

// splitCheckpoint writes the fixture's single-file checkpoint without its
// VAE tensors (ckpt) and those tensors alone with their
// first_stage_model. prefix cut (vae, as vae-ft-mse-840000 is laid out),
// with every value of the VAE multiplied by scale.
func splitCheckpoint(t *testing.T, scale float32) (ckpt, vae string) {
	t.Helper()
	f, err := safetensors.Open(filepath.Join("testdata", "sd-tiny", "sd-tiny-single.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rest, vaeTensors []safetensors.Tensor
	for _, n := range f.Names() {
		data, shape, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		if name, ok := strings.CutPrefix(n, singleVAEPrefix); ok {
			for i := range data {
				data[i] *= scale
			}
			vaeTensors = append(vaeTensors, safetensors.F32Tensor(name, shape, data))
			continue
		}
		rest = append(rest, safetensors.F32Tensor(n, shape, data))
	}
	dir := t.TempDir()
	ckpt, vae = filepath.Join(dir, "novae.safetensors"), filepath.Join(dir, "vae-ft-test.safetensors")
	if err := safetensors.Write(ckpt, rest, nil); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(vae, vaeTensors, nil); err != nil {
		t.Fatal(err)
	}
	return ckpt, vae
}

// vaeWeights returns every vae/ weight of m by key.
func vaeWeights(t *testing.T, m *Model) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for key := range m.WeightDims() {
		if strings.HasPrefix(key, ComponentVAE+"/") {
			w, _, err := m.Weight(key)
			if err != nil {
				t.Fatal(err)
			}
			out[key] = w
		}
	}
	return out
}

// TestLoadVAE loads a checkpoint without VAE (a clear error, then with a
// single-file LDM VAE or a diffusers vae folder) and replaces the VAE of
// checkpoints that have one, in both layouts.
func TestLoadVAE(t *testing.T) {
	ckpt, vaeFile := splitCheckpoint(t, 1)
	_, scaledVAE := splitCheckpoint(t, 2)
	tiny := filepath.Join("testdata", "sd-tiny")
	// sd-tiny's widths do not follow SD 1.x's conventions: its single file
	// loads with the folder's configs.
	if _, err := Load(ckpt, &LoadOptions{ConfigDir: tiny}); !errors.Is(err, ErrNoVAE) {
		t.Errorf("checkpoint without VAE: %v, want ErrNoVAE", err)
	}
	want := vaeWeights(t, tinyModel(t, "single"))
	scaled := map[string][]float32{}
	for k, w := range want {
		s := slices.Clone(w)
		for i := range s {
			s[i] *= 2
		}
		scaled[k] = s
	}
	for _, c := range []struct {
		name, model, vae string
		want             map[string][]float32
	}{
		{"no VAE + LDM file", ckpt, vaeFile, want},
		{"no VAE + diffusers folder", ckpt, filepath.Join(tiny, "vae"), want},
		{"no VAE + diffusers file", ckpt, filepath.Join(tiny, "vae", "diffusion_pytorch_model.safetensors"), want},
		{"single file + other VAE", filepath.Join(tiny, "sd-tiny-single.safetensors"), scaledVAE, scaled},
		{"diffusers + other VAE", tiny, scaledVAE, scaled},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := &LoadOptions{VAE: c.vae}
			if c.model != tiny {
				opts.ConfigDir = tiny
			}
			m, err := Load(c.model, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Finalize()
			if m.VAEPath != c.vae || len(m.VAEHash) != 10 {
				t.Errorf("VAEPath %q, VAEHash %q", m.VAEPath, m.VAEHash)
			}
			got := vaeWeights(t, m)
			if len(got) != len(c.want) {
				t.Fatalf("%d VAE weights, want %d", len(got), len(c.want))
			}
			for k, w := range c.want {
				if !slices.Equal(got[k], w) {
					t.Errorf("%s differs", k)
					break
				}
			}
		})
	}
	// A file that is no checkpoint at all is not asked for a VAE.
	if _, err := Load(filepath.Join(tiny, "text_encoder", "model.safetensors"), nil); err == nil || errors.Is(err, ErrNoVAE) {
		t.Errorf("a text encoder as checkpoint: %v", err)
	}
	if _, err := Load(ckpt, &LoadOptions{ConfigDir: tiny, VAE: filepath.Join(tiny, "text_encoder", "model.safetensors")}); err == nil ||
		!strings.Contains(err.Error(), "no VAE encoder tensors") {
		t.Errorf("a text encoder as VAE: %v", err)
	}
}

// TestInferWithExternalVAE infers SD 1.5's configs for a checkpoint without
// VAE tensors from an external VAE's tensors, in LDM names (bare, as
// vae-ft-mse-840000 has them) and in diffusers names, and lets the external
// VAE's shapes win over the checkpoint's own.
func TestInferWithExternalVAE(t *testing.T) {
	layout, _, _, want := readSD15Layout(t)
	ckpt := map[string][]int{}
	for component, tensors := range layout.SingleFile {
		if component == "vae" {
			continue
		}
		maps.Copy(ckpt, tensors)
	}
	// the checkpoint's own VAE tensors must not count: a third resnet in
	// the first down block would make layers_per_block 3
	ckpt[singleVAEPrefix+"encoder.down.0.block.2.conv2.weight"] = []int{128, 128, 3, 3}
	infos := func(tensors map[string][]int, cut string) []safetensors.TensorInfo {
		var out []safetensors.TensorInfo
		for n, s := range tensors {
			out = append(out, safetensors.TensorInfo{Name: strings.TrimPrefix(n, cut), Shape: s})
		}
		return out
	}
	for _, c := range []struct {
		name  string
		vae   *vaeFile
		infos []safetensors.TensorInfo
	}{
		{"LDM names", &vaeFile{ldm: true}, infos(layout.SingleFile["vae"], singleVAEPrefix)},
		{"LDM names with prefix", &vaeFile{ldm: true, prefix: singleVAEPrefix}, infos(layout.SingleFile["vae"], "")},
		{"diffusers names", &vaeFile{}, infos(layout.Diffusers["vae"], "")},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, got, err := InferSingleFileConfigs(c.vae.replaceShapes(ckpt, c.infos))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("vae config %+v, want %+v", got, want)
			}
		})
	}
}
