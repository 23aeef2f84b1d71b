package sd

import (
	"math"
	"slices"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// variableValues maps VariableKey to each variable's values.
func variableValues(t *testing.T, ctx *context.Context) map[string]*tensors.Tensor {
	t.Helper()
	out := map[string]*tensors.Tensor{}
	for v := range ctx.IterVariables() {
		val, err := v.Value()
		if err != nil {
			t.Fatal(err)
		}
		out[VariableKey(v)] = val
	}
	return out
}

func TestNewRandom(t *testing.T) {
	fixture := tinyModel(t, "diffusers")
	a, err := NewRandom(fixture.Text, fixture.UNet, fixture.VAE, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewRandom(fixture.Text, fixture.UNet, fixture.VAE, 7)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewRandom(fixture.Text, fixture.UNet, fixture.VAE, 8)
	if err != nil {
		t.Fatal(err)
	}
	want, va, vb, vc := variableValues(t, fixture.Ctx), variableValues(t, a.Ctx), variableValues(t, b.Ctx), variableValues(t, c.Ctx)
	if len(va) != len(want) {
		t.Fatalf("random model has %d variables, the loaded fixture %d", len(va), len(want))
	}
	seedMatters := false
	for key, w := range want {
		got, ok := va[key]
		if !ok {
			t.Fatalf("random model lacks %s", key)
		}
		if !slices.Equal(got.Shape().Dimensions, w.Shape().Dimensions) {
			t.Errorf("%s: shape %v, want %v", key, got.Shape().Dimensions, w.Shape().Dimensions)
		}
		x, y := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](vb[key])
		if !slices.Equal(x, y) {
			t.Errorf("%s differs between two models of the same seed", key)
		}
		if !slices.Equal(x, tensors.MustCopyFlatData[float32](vc[key])) {
			seedMatters = true
		}
	}
	if !seedMatters {
		t.Error("seeds 7 and 8 gave the same weights")
	}

	// Activations keep their scale: the UNet's prediction on unit noise is
	// finite with a standard deviation of order one.
	latent, steps, states := refTensor(t, "unet_latent"), refTensor(t, "unet_timesteps"), refTensor(t, "unet_encoder_hidden_states")
	unet := func(ctx *context.Context, x, t, s *Node) *Node { return UNet(ctx, x, t, []*Node{s}) }
	pred, err := context.ExecOnce(fixtureBackend(t), a.Ctx, unet, latent, steps, states)
	if err != nil {
		t.Fatal(err)
	}
	var sum, sq float64
	p := tensors.MustCopyFlatData[float32](pred)
	for _, v := range p {
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	std := math.Sqrt(sq/float64(len(p)) - (sum/float64(len(p)))*(sum/float64(len(p))))
	if !(std > 0.05 && std < 20) {
		t.Errorf("UNet output of the random model has standard deviation %g, want order 1", std)
	}
	t.Logf("UNet output std %.3g", std)
}
