package adi

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/scheduler"
	"kata/model/sd"
)

// latent is the VAE posterior of one image: x0 = (mean + std*eps) * scale.
type latent struct {
	mean, std []float32
}

// latentEncoder runs the VAE encoder on one image at a time (one compiled graph).
type latentEncoder struct {
	exec  *context.Exec
	size  int
	scale float32
}

func newLatentEncoder(backend backends.Backend, m *sd.Model) (*latentEncoder, error) {
	exec, err := context.NewExec(backend, m.Ctx.Reuse(), func(ctx *context.Context, img *Node) (*Node, *Node) {
		return sd.VAEEncode(ctx, img)
	})
	if err != nil {
		return nil, fmt.Errorf("vae encoder: %w", err)
	}
	return &latentEncoder{exec: exec, scale: float32(m.VAE.ScalingFactor)}, nil
}

// encode returns the posterior of img as it is and mirrored.
func (e *latentEncoder) encodePair(img *image.NRGBA) ([2]latent, error) {
	var out [2]latent
	for k, flip := range []bool{false, true} {
		l, err := e.encode(img, flip)
		if err != nil {
			return out, err
		}
		out[k] = l
	}
	return out, nil
}

func (e *latentEncoder) encode(img *image.NRGBA, flip bool) (latent, error) {
	b := img.Bounds()
	x := tensors.FromFlatDataAndDimensions(ImageCHW(img, flip), 1, 3, b.Dy(), b.Dx())
	outs, err := execFloats(e.exec, x)
	if err != nil {
		return latent{}, err
	}
	l := latent{mean: outs[0], std: make([]float32, len(outs[1]))}
	for i, v := range outs[1] {
		// diffusers clamps the log-variance to [-30, 20].
		lv := math.Min(math.Max(float64(v), -30), 20)
		l.std[i] = float32(math.Exp(0.5 * lv))
	}
	return l, nil
}

// sample draws x0 = (mean + std*eps) * scale with eps from rng.
func (l latent) sample(rng *rand.Rand, scale float32) []float32 {
	eps := scheduler.Randn(rng, len(l.mean))
	for i := range eps {
		eps[i] = (l.mean[i] + l.std[i]*eps[i]) * scale
	}
	return eps
}
