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

// TokenEmbeddingRows returns the mean of the text encoder's token embedding
// rows ids (the initial value of a new identifier), [D].
func TokenEmbeddingRows(m *sd.Model, ids []int) ([]float32, error) {
	v := m.Ctx.InspectVariable("/text_encoder/text_model/embeddings/token_embedding", "weight")
	if v == nil {
		return nil, fmt.Errorf("model has no token embedding table")
	}
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	dims := t.Shape().Dimensions
	if len(dims) != 2 {
		return nil, fmt.Errorf("token embedding shaped %v", dims)
	}
	rows, d := dims[0], dims[1]
	out := make([]float32, d)
	err = tensors.ConstFlatData(t, func(flat []float32) {
		for _, id := range ids {
			if id < 0 || id >= rows {
				err = fmt.Errorf("token id %d outside the embedding table (%d rows)", id, rows)
				return
			}
			for j := range d {
				out[j] += flat[id*d+j]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for j := range out {
		out[j] /= float32(len(ids))
	}
	return out, nil
}

// gradient draws one step's samples (BatchSize anchors x GradAccum
// micro-batches) and returns the update direction and the mean anchor loss.
// For ADI every anchor brings a positive (another exemplar) and a negative
// (one of its contrast images) with the same noise and timestep, and the
// direction is ADI's masked gradient; TI and P+ use the anchor gradient.
// All draws come from rng in a fixed order, which makes runs reproducible.
func (t *trainer) gradient(rng *rand.Rand, vectors []float32) ([]float32, float64, error) {
	o := t.opts
	n := len(vectors)
	acc := make([]float64, n)
	var lossSum float64
	size := t.latDim[0] * t.latDim[1] * t.latDim[2]
	seq := len(t.ids[0])
	scale := float32(t.base.Model.VAE.ScalingFactor)
	per := 1
	if o.Method == MethodADI {
		per = 3
	}
	for range o.GradAccum {
		b := LossBatch{B: o.BatchSize * per, T: seq, Lv: t.lv, LatentDim: t.latDim}
		add := func(x0, noise []float32, ts, ex int) error {
			noisy, err := t.schedule.AddNoise(x0, noise, ts)
			if err != nil {
				return err
			}
			b.Noisy = append(b.Noisy, noisy...)
			b.Noise = append(b.Noise, noise...)
			b.Timesteps = append(b.Timesteps, int32(ts))
			b.IDs = append(b.IDs, t.ids[ex]...)
			b.Slots = append(b.Slots, t.slots[ex]...)
			b.Vectors = append(b.Vectors, vectors...)
			return nil
		}
		flip := func() int {
			if o.NoFlip || rng.IntN(2) == 0 {
				return 0
			}
			return 1
		}
		for range o.BatchSize {
			ai := rng.IntN(len(t.anchors))
			fa := flip()
			ts := rng.IntN(t.schedule.NumTrain())
			noise := scheduler.Randn(rng, size)
			if err := add(t.anchors[ai][fa].sample(rng, scale), noise, ts, ai); err != nil {
				return nil, 0, err
			}
			if o.Method != MethodADI {
				continue
			}
			pi := rng.IntN(len(t.anchors) - 1)
			if pi >= ai {
				pi++
			}
			fp := flip()
			if err := add(t.anchors[pi][fp].sample(rng, scale), noise, ts, pi); err != nil {
				return nil, 0, err
			}
			negs := t.negs[ai]
			ni := rng.IntN(len(negs))
			// The negative shares the anchor's context and caption; it is
			// mirrored with the anchor so the layout matches.
			if err := add(negs[ni][fa].sample(rng, scale), noise, ts, ai); err != nil {
				return nil, 0, err
			}
		}
		res, err := t.lossFn.Compute(b)
		if err != nil {
			return nil, 0, err
		}
		for k := range o.BatchSize {
			lossSum += float64(res.Losses[k*per])
			ga := res.Grads[k*per*n : (k*per+1)*n]
			g := ga
			if o.Method == MethodADI {
				gp := res.Grads[(k*per+1)*n : (k*per+2)*n]
				gn := res.Grads[(k*per+2)*n : (k*per+3)*n]
				if g, _, err = MaskedGradient(ga, gp, gn, t.lv, o.Mask); err != nil {
					return nil, 0, err
				}
			}
			for i, v := range g {
				acc[i] += float64(v)
			}
		}
	}
	total := float64(o.BatchSize * o.GradAccum)
	grad := make([]float32, n)
	for i, v := range acc {
		grad[i] = float32(v / total)
	}
	return grad, lossSum / total, nil
}
