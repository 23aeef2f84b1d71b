package sd

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/backend"
	"kata/model/safetensors"
	"kata/model/sd/sdtest"
)

var (
	testBackendOnce sync.Once
	testBackend     backends.Backend
	testBackendErr  error

	tinyMu     sync.Mutex
	tinyModels = map[string]*Model{}
)

// fixtureBackend is the backend the parity tests run on: pure Go unless
// sdtest.EnvBackend says otherwise.
func fixtureBackend(t testing.TB) backends.Backend {
	t.Helper()
	testBackendOnce.Do(func() { testBackend, testBackendErr = backend.New(sdtest.Backend()) })
	if testBackendErr != nil {
		t.Fatal(testBackendErr)
	}
	return testBackend
}

// tinyModel loads the sd-tiny fixture once per layout: "diffusers",
// "single" (single file with the folder's configs), "fp16" (diffusers with
// the fp16 UNet widened to float32), "fp16-stored" (the same, kept in half
// precision).
func tinyModel(t testing.TB, layout string) *Model {
	t.Helper()
	tinyMu.Lock()
	defer tinyMu.Unlock()
	if m, ok := tinyModels[layout]; ok {
		return m
	}
	var m *Model
	var err error
	switch layout {
	case "diffusers":
		m, err = Load(sdtest.TinyDir(), nil)
	case "single":
		m, err = Load(sdtest.TinySingleFile(), &LoadOptions{ConfigDir: sdtest.TinyDir()})
	case "fp16":
		m, err = Load(sdtest.TinyDir(), &LoadOptions{Variant: "fp16"})
	case "fp16-stored":
		// The fp16 UNet kept in half precision, loaded into the backend.
		if !backend.SupportsHalf(fixtureBackend(t)) {
			t.Skip("the backend cannot convert float16 (KATA_KERNELS=stock)")
		}
		m, err = Load(sdtest.TinyDir(), &LoadOptions{Variant: "fp16", Precision: PrecisionStored, Backend: fixtureBackend(t)})
	default:
		t.Fatalf("unknown layout %q", layout)
	}
	if err != nil {
		t.Fatal(err)
	}
	tinyModels[layout] = m
	return m
}

// refTensor reads one entry of reference.safetensors.
func refTensor(t testing.TB, name string) *tensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(sdtest.TinyDir(), "reference.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, shape, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return tensors.FromFlatDataAndDimensions(data, shape...)
}

// relErr is ||got - want|| / ||want||; shapes must agree.
func relErr(t testing.TB, what string, got, want *tensors.Tensor) float64 {
	t.Helper()
	if !slices.Equal(got.Shape().Dimensions, want.Shape().Dimensions) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape().Dimensions, want.Shape().Dimensions)
	}
	g := tensors.MustCopyFlatData[float32](got)
	w := tensors.MustCopyFlatData[float32](want)
	var num, den float64
	for i := range w {
		d := float64(g[i]) - float64(w[i])
		num += d * d
		den += float64(w[i]) * float64(w[i])
	}
	if math.IsNaN(num) {
		return math.Inf(1)
	}
	return math.Sqrt(num / den)
}

func checkRel(t testing.TB, what string, got, want *tensors.Tensor, tol float64) {
	t.Helper()
	e := relErr(t, what, got, want)
	t.Logf("%s: relative error %.3g", what, e)
	if !(e <= tol) {
		t.Errorf("%s: relative error %.3g > %.1g", what, e, tol)
	}
}

var layouts = []string{"diffusers", "single"}

func TestTextEncoderParity(t *testing.T) {
	ids := refTensor(t, "text_ids")
	want := refTensor(t, "text_hidden")
	for _, layout := range layouts {
		t.Run(layout, func(t *testing.T) {
			m := tinyModel(t, layout)
			got, err := context.ExecOnce(fixtureBackend(t), m.Ctx, EncodeText, ids)
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, "text_hidden", got, want, 1e-4)
		})
	}
}

func TestUNetParity(t *testing.T) {
	latent := refTensor(t, "unet_latent")
	steps := refTensor(t, "unet_timesteps")
	states := refTensor(t, "unet_encoder_hidden_states")
	unet := func(ctx *context.Context, x, t, s *Node) *Node { return UNet(ctx, x, t, []*Node{s}) }
	for _, c := range []struct{ layout, want string }{
		{"diffusers", "unet_noise_pred"},
		{"single", "unet_noise_pred"},
		{"fp16", "unet_fp16_weights_noise_pred"},
		{"fp16-stored", "unet_fp16_weights_noise_pred"},
	} {
		t.Run(c.layout, func(t *testing.T) {
			m := tinyModel(t, c.layout)
			got, err := context.ExecOnce(fixtureBackend(t), m.Ctx, unet, latent, steps, states)
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, c.want, got, refTensor(t, c.want), 1e-4)
			if c.layout == "fp16-stored" {
				// The same f16 values widened at load: the two paths differ
				// only in where the widening happens.
				f32, err := context.ExecOnce(fixtureBackend(t), tinyModel(t, "fp16").Ctx, unet, latent, steps, states)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("max |half-precision weights - widened at load| = %.3g", maxAbsDiff(got, f32))
				checkRel(t, "against the weights widened at load", got, f32, 0)
			}
		})
	}
}

// maxAbsDiff is the largest |got - want| over the elements.
func maxAbsDiff(got, want *tensors.Tensor) float64 {
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	var d float64
	for i := range w {
		d = max(d, math.Abs(float64(g[i])-float64(w[i])))
	}
	return d
}

func TestVAEParity(t *testing.T) {
	image := refTensor(t, "vae_image")
	latent := refTensor(t, "vae_decode_latent")
	encode := func(ctx *context.Context, x *Node) (*Node, *Node) { return VAEEncode(ctx, x) }
	for _, layout := range layouts {
		t.Run(layout, func(t *testing.T) {
			m := tinyModel(t, layout)
			out, err := context.ExecOnceN(fixtureBackend(t), m.Ctx, encode, image)
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, "vae_posterior_mean", out[0], refTensor(t, "vae_posterior_mean"), 1e-4)
			checkRel(t, "vae_posterior_logvar", out[1], refTensor(t, "vae_posterior_logvar"), 1e-4)
			dec, err := context.ExecOnce(fixtureBackend(t), m.Ctx, VAEDecode, latent)
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, "vae_decoded", dec, refTensor(t, "vae_decoded"), 1e-4)
		})
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		path string
		opts *LoadOptions
	}{
		{"missing path", filepath.Join(dir, "nope"), nil},
		{"empty folder", dir, nil},
		{"reference file is not a model", filepath.Join(sdtest.TinyDir(), "reference.safetensors"), nil},
		{"config file is not safetensors", filepath.Join(sdtest.TinyDir(), "model_index.json"), nil},
		{"bad variant", sdtest.TinyDir(), &LoadOptions{Variant: "int8"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Load(c.path, c.opts); err == nil {
				t.Fatal("Load succeeded")
			} else {
				t.Log(err)
			}
		})
	}
}

func ExampleVariableKey() {
	ctx := context.New()
	v := ctx.In("unet").In("down_blocks").In("0").In("resnets").In("0").In("conv1").VariableWithValue("bias", []float32{0})
	fmt.Println(VariableKey(v))
	// Output: unet/down_blocks.0.resnets.0.conv1.bias
}

// TestLoadMissingTensor checks that a checkpoint lacking a tensor, or with
// one of the wrong shape, is refused with its name.
func TestLoadMissingTensor(t *testing.T) {
	f, err := safetensors.Open(sdtest.TinySingleFile())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const victim = "model.diffusion_model.output_blocks.5.1.transformer_blocks.0.attn2.to_k.weight"
	const victimKey = "unet/up_blocks.1.attentions.2.transformer_blocks.0.attn2.to_k.weight"
	var dropped, reshaped []safetensors.Tensor
	for _, name := range f.Names() {
		data, shape, err := f.Float32(name)
		if err != nil {
			t.Fatal(err)
		}
		tensor := safetensors.F32Tensor(name, shape, data)
		if name != victim {
			dropped = append(dropped, tensor)
			reshaped = append(reshaped, tensor)
		} else {
			reshaped = append(reshaped, safetensors.F32Tensor(name, []int{shape[0] / 2, shape[1] * 2}, data))
		}
	}
	dir := t.TempDir()
	for _, c := range []struct {
		file    string
		tensors []safetensors.Tensor
		want    string
	}{
		{"dropped.safetensors", dropped, victimKey},
		{"reshaped.safetensors", reshaped, victim},
	} {
		path := filepath.Join(dir, c.file)
		if err := safetensors.Write(path, c.tensors, nil); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, &LoadOptions{ConfigDir: sdtest.TinyDir()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %s", c.file, err, c.want)
		}
	}
}

func TestLoadProgress(t *testing.T) {
	var calls, lastDone, lastTotal int
	m, err := Load(sdtest.TinyDir(), &LoadOptions{Progress: func(done, total int) {
		calls++
		if done < lastDone {
			t.Errorf("progress went back from %d to %d", lastDone, done)
		}
		lastDone, lastTotal = done, total
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	// 684 UNet + 248 VAE + 36 text encoder tensors (reference README).
	if lastDone != 968 || lastTotal != 968 || calls < 2 {
		t.Errorf("progress ended at %d/%d after %d calls, want 968/968", lastDone, lastTotal, calls)
	}
	if m.Format != "diffusers" || len(m.SHA256) != 64 || m.Hash != m.SHA256[:10] || m.Tokenizer == nil || m.Scheduler.NumTrainTimesteps != 1000 {
		t.Errorf("model %s format %q hash %q/%q tokenizer %v scheduler %+v", m.Path, m.Format, m.Hash, m.SHA256, m.Tokenizer, m.Scheduler)
	}
}
