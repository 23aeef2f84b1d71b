package sd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// NewRandom builds a model of the given configs with random weights, for
// benchmarks and memory checks at real sizes (e.g. SD 1.5 with SD15TextConfig,
// SD15UNetConfig, SD15VAEConfig) without a checkpoint on disk. Matrices and
// kernels are normal with standard deviation 1/sqrt(fan-in), so activations
// keep their scale through the layers; norm scales are 1, biases 0, and
// embeddings normal with standard deviation 0.02 (CLIP's initialisation).
// The same seed gives the same weights. SHA256 and Hash read "random".
func NewRandom(text *TextConfig, unet *UNetConfig, vae *VAEConfig, seed uint64) (*Model, error) {
	for _, err := range []error{text.validate(), unet.validate(), vae.validate()} {
		if err != nil {
			return nil, fmt.Errorf("random model: %w", err)
		}
	}
	want, err := ModelVariables(text, unet, vae)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys) // fixed order: the weights depend on the seed alone
	rng := rand.New(rand.NewPCG(seed, 0x72616e64))
	ctx := context.New()
	SetConfigs(ctx, text, unet, vae)
	for _, key := range keys {
		dims := want[key]
		vctx, name := variableForKey(ctx, key)
		value := tensors.FromFlatDataAndDimensions(randomWeights(rng, key, dims), dims...)
		vctx.VariableWithValue(name, value).SetTrainable(false)
	}
	m := &Model{Ctx: ctx.Reuse(), Text: text, UNet: unet, VAE: vae, Format: "random", SHA256: "random", Hash: "random"}
	if err := m.defaultTextAndSchedule(); err != nil {
		return nil, err
	}
	return m, nil
}

// randomWeights fills one variable as NewRandom describes.
func randomWeights(rng *rand.Rand, key string, dims []int) []float32 {
	n := 1
	for _, d := range dims {
		n *= d
	}
	data := make([]float32, n)
	std := 0.0
	switch {
	case strings.HasSuffix(key, "token_embedding.weight"), strings.HasSuffix(key, "position_embedding.weight"):
		std = 0.02
	case strings.HasSuffix(key, ".bias"):
		return data
	case len(dims) == 1: // norm scale
		for i := range data {
			data[i] = 1
		}
		return data
	default:
		std = 1 / math.Sqrt(float64(n/dims[0]))
	}
	for i := range data {
		data[i] = float32(rng.NormFloat64() * std)
	}
	return data
}
