package sd

import (
	"os"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"kata/model/safetensors"
	"kata/model/sd/sdtest"
)

// TestLoadPrecision checks which weights Load keeps in half precision, that
// KATA_WEIGHTS=f32 widens them all, and that Weight and SetWeight read and
// write a half-precision weight as float32 values.
func TestLoadPrecision(t *testing.T) {
	const unetKey, textKey = "unet/conv_in.weight", "text_encoder/text_model.embeddings.token_embedding.weight"
	dtypeOf := func(m *Model, key string) dtypes.DType {
		v, err := m.variable(key)
		if err != nil {
			t.Fatal(err)
		}
		return v.Shape().DType
	}
	for _, c := range []struct {
		name      string
		precision string
		env       string
		unet      dtypes.DType
	}{
		{"default", "", "", dtypes.Float32},
		{"f32", PrecisionF32, "", dtypes.Float32},
		{"stored", PrecisionStored, "", dtypes.Float16},
		{"stored, KATA_WEIGHTS=f32", PrecisionStored, PrecisionF32, dtypes.Float32},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvWeights, c.env)
			m, err := Load(sdtest.TinyDir(), &LoadOptions{Variant: "fp16", Precision: c.precision})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Finalize()
			if got := dtypeOf(m, unetKey); got != c.unet {
				t.Errorf("%s is %s, want %s", unetKey, got, c.unet)
			}
			if got := dtypeOf(m, textKey); got != dtypes.Float32 {
				t.Errorf("%s is %s, want Float32 (embeddings stay float32)", textKey, got)
			}
		})
	}
	if _, err := Load(sdtest.TinyDir(), &LoadOptions{Precision: "f8"}); err == nil {
		t.Error("unknown precision: no error")
	}

	os.Unsetenv(EnvWeights)
	m, err := Load(sdtest.TinyDir(), &LoadOptions{Variant: "fp16", Precision: PrecisionStored})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	f, err := safetensors.Open(sdtest.TinyDir() + "/unet/diffusion_pytorch_model.fp16.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, _, err := f.Float32("conv_in.weight")
	if err != nil {
		t.Fatal(err)
	}
	got, dims, err := m.Weight(unetKey)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Weight element %d = %g, file %g", i, got[i], want[i])
		}
	}
	for i := range got {
		got[i] = float32(i%7) * 0.25 // exact in float16
	}
	if err := m.SetWeight(unetKey, got); err != nil {
		t.Fatal(err)
	}
	if dtypeOf(m, unetKey) != dtypes.Float16 {
		t.Errorf("SetWeight changed the weight's dtype to %s", dtypeOf(m, unetKey))
	}
	back, _, err := m.Weight(unetKey)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if back[i] != got[i] {
			t.Fatalf("after SetWeight, element %d = %g, want %g (dims %v)", i, back[i], got[i], dims)
		}
	}
}
