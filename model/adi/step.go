package adi

import (
	"math/rand/v2"

	"kata/model/scheduler"
)

// gradient draws one step's samples (BatchSize anchors x GradAccum
// micro-batches) and returns the update direction, the mean anchor loss and,
// for ADI, the mean share of V's entries both masks kept (0 otherwise).
// For ADI every anchor brings a positive (another exemplar) and a negative
// (one of its contrast images) with the same noise and timestep, and the
// direction is ADI's masked gradient; TI and P+ use the anchor gradient.
// All draws come from rng in a fixed order, which makes runs reproducible.
func (t *trainer) gradient(rng *rand.Rand, vectors []float32) (grad []float32, loss, kept float64, err error) {
	o := t.opts
	n := len(vectors)
	acc := make([]float64, n)
	var lossSum, keptSum float64
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
				return nil, 0, 0, err
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
				return nil, 0, 0, err
			}
			negs := t.negs[ai]
			ni := rng.IntN(len(negs))
			// The negative shares the anchor's context and caption; it is
			// mirrored with the anchor so the layout matches.
			if err := add(negs[ni][fa].sample(rng, scale), noise, ts, ai); err != nil {
				return nil, 0, 0, err
			}
		}
		res, err := t.compute(b)
		if err != nil {
			return nil, 0, 0, err
		}
		for k := range o.BatchSize {
			lossSum += float64(res.Losses[k*per])
			ga := res.Grads[k*per*n : (k*per+1)*n]
			g := ga
			if o.Method == MethodADI {
				gp := res.Grads[(k*per+1)*n : (k*per+2)*n]
				gn := res.Grads[(k*per+2)*n : (k*per+3)*n]
				var m Masks
				if g, m, err = MaskedGradient(ga, gp, gn, t.lv, o.Mask); err != nil {
					return nil, 0, 0, err
				}
				keptSum += m.keptShare()
			}
			for i, v := range g {
				acc[i] += float64(v)
			}
		}
	}
	total := float64(o.BatchSize * o.GradAccum)
	grad = make([]float32, n)
	for i, v := range acc {
		grad[i] = float32(v / total)
	}
	return grad, lossSum / total, keptSum / total, nil
}
