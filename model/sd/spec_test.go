package sd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

type sd15Layout struct {
	Configs struct {
		UNet        json.RawMessage `json:"unet"`
		VAE         json.RawMessage `json:"vae"`
		TextEncoder json.RawMessage `json:"text_encoder"`
	} `json:"configs"`
	Diffusers    map[string]map[string][]int  `json:"diffusers"`
	SingleFile   map[string]map[string][]int  `json:"single_file"`
	ToSingleFile map[string]map[string]string `json:"to_single_file"`
	Counts       struct {
		Parameters map[string]int `json:"parameters"`
	} `json:"counts"`
}

func readSD15Layout(t *testing.T) (*sd15Layout, *TextConfig, *UNetConfig, *VAEConfig) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "sd15-layout.json"))
	if err != nil {
		t.Fatal(err)
	}
	var layout sd15Layout
	if err := json.Unmarshal(data, &layout); err != nil {
		t.Fatal(err)
	}
	text, err := ParseTextConfig(layout.Configs.TextEncoder)
	if err != nil {
		t.Fatal(err)
	}
	unet, err := ParseUNetConfig(layout.Configs.UNet)
	if err != nil {
		t.Fatal(err)
	}
	vae, err := ParseVAEConfig(layout.Configs.VAE)
	if err != nil {
		t.Fatal(err)
	}
	return &layout, text, unet, vae
}

// TestSD15Layout checks that every tensor of the real SD 1.5 model, under its
// diffusers name and under its single-file name, maps to a model variable of
// the same shape, and that the model reads no other variable.
func TestSD15Layout(t *testing.T) {
	layout, text, unet, vae := readSD15Layout(t)
	vars, err := ModelVariables(text, unet, vae)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for component, tensors := range layout.Diffusers {
		for name, shape := range tensors {
			total++
			key := component + "/" + name
			got, ok := vars[key]
			if !ok {
				t.Errorf("diffusers tensor %s: no model variable", key)
				continue
			}
			if !slices.Equal(got, shape) {
				t.Errorf("diffusers tensor %s: shape %v, variable %v", key, shape, got)
			}
			single := layout.ToSingleFile[component][name]
			sShape, ok := layout.SingleFile[component][single]
			if !ok {
				t.Fatalf("layout file lacks single-file tensor %q", single)
			}
			c, d, ok := SingleFileName(single, unet, vae)
			if !ok || c+"/"+d != key {
				t.Errorf("single-file tensor %s maps to %s/%s (ok=%v), want %s", single, c, d, ok, key)
				continue
			}
			if !slices.Equal(singleFileShape(key, sShape), got) {
				t.Errorf("single-file tensor %s: shape %v does not fit variable %v", single, sShape, got)
			}
		}
	}
	if total != len(vars) {
		t.Errorf("layout has %d tensors, model reads %d variables", total, len(vars))
	}
	if total != 686+248+196 {
		t.Errorf("layout has %d tensors, want 1130", total)
	}
	params := map[string]int{}
	for key, dims := range vars {
		n := 1
		for _, d := range dims {
			n *= d
		}
		params[strings.Split(key, "/")[0]] += n
	}
	for component, want := range layout.Counts.Parameters {
		if params[component] != want {
			t.Errorf("%s: %d parameters, want %d", component, params[component], want)
		}
	}
}

// TestInferSingleFileConfigs checks that the SD 1.5 configs are recovered
// from the tensor shapes of its single-file checkpoint.
func TestInferSingleFileConfigs(t *testing.T) {
	layout, text, unet, vae := readSD15Layout(t)
	shapes := map[string][]int{}
	for _, tensors := range layout.SingleFile {
		for name, shape := range tensors {
			shapes[name] = shape
		}
	}
	gotText, gotUNet, gotVAE, err := InferSingleFileConfigs(shapes)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotText, text) {
		t.Errorf("text config %+v, want %+v", gotText, text)
	}
	if !reflect.DeepEqual(gotUNet, unet) {
		t.Errorf("unet config %+v, want %+v", gotUNet, unet)
	}
	if !reflect.DeepEqual(gotVAE, vae) {
		t.Errorf("vae config %+v, want %+v", gotVAE, vae)
	}
	delete(shapes, "model.diffusion_model.out.2.weight")
	if _, _, _, err := InferSingleFileConfigs(shapes); err == nil || !strings.Contains(err.Error(), "out.2.weight") {
		t.Errorf("missing conv_out: error %v", err)
	}
}
