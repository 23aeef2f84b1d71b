package sd

import (
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/backend"
	"kata/model/parallel"
)

// SmallLatent is the largest latent side (Kata World's is 16; SD 1.x's is
// 64 at 512 px) at which the pure-Go backend runs a step's graph
// executions at once by default: a small model's ops are too small for the
// kernels to split, and the backend runs a graph's nodes one at a time, so
// one execution keeps about 1.5 of 2 cores busy. Large latents' ops use
// every core already, and their activations bound the memory.
const SmallLatent = 32

// DefaultConcurrent is GenerateOptions.Concurrent's default on the pure-Go
// backend at latents of at most SmallLatent a side: two executions at
// once, one per core of the 2-core machines Kata is measured on
// (BenchmarkBuiltinGrid in app).
const DefaultConcurrent = 2

// concurrency is how many UNet or VAE executions o asks to run at once on
// p's backend with latents of the given side.
func (p *Pipeline) concurrency(o GenerateOptions, side int) int {
	switch {
	case o.Concurrent > 0:
		return o.Concurrent
	case backend.PureGo(p.Backend) && side <= SmallLatent:
		return DefaultConcurrent
	}
	return 1
}

// denoiser predicts one sampler step's noise for a batch of images with
// classifier-free guidance, splitting the work into up to width graph
// executions that run at once. Every split gives each image the noise the
// whole batch would (up to the kernels' rounding by matrix shape).
type denoiser struct {
	p          *Pipeline
	lc, h, w   int
	cfg        float32
	scale      *tensors.Tensor
	cond       []any // [1, L, D] each
	uncond     []any // [1, L', D] each; nil unguided
	paired     []any // [2, L, D] each (uncond first) when L == L'; nil otherwise
	width      int
	imagesFlat int // lc·h·w
}

// newDenoiser prepares the step's inputs: guided when uncond is not nil.
func (p *Pipeline) newDenoiser(lc, h, w int, cfg float64, cond, uncond []any, width int) (*denoiser, error) {
	d := &denoiser{p: p, lc: lc, h: h, w: w, cfg: float32(cfg), scale: tensors.FromScalar(float32(cfg)),
		cond: cond, uncond: uncond, width: max(width, 1), imagesFlat: lc * h * w}
	if uncond != nil && stateLen(cond) == stateLen(uncond) {
		d.paired = pairStates(uncond, cond)
	}
	shared := []any{d.scale}
	for _, states := range [][]any{cond, uncond, d.paired} {
		shared = append(shared, states...)
	}
	return d, d.onDevice(shared...)
}

// onDevice moves tensors that executions running at once will share onto
// the device first: GoMLX checks a tensor's storage without its lock before
// moving it, so two executions moving one tensor at once can see it with
// neither storage.
func (d *denoiser) onDevice(ts ...any) error {
	if d.width == 1 {
		return nil
	}
	for _, t := range ts {
		if err := t.(*tensors.Tensor).MaterializeOnDevice(d.p.Backend, true, 0); err != nil {
			return err
		}
	}
	return nil
}

// predict returns the guided noise prediction for the nb images x
// [nb, lc, h, w] flat at timestep t [1].
func (d *denoiser) predict(x []float32, nb int, t *tensors.Tensor) ([]float32, error) {
	if err := d.onDevice(t); err != nil {
		return nil, err
	}
	switch {
	case d.uncond == nil:
		return d.byImages(x, nb, t, d.cond)
	case d.paired != nil && (nb > 1 || d.width == 1):
		// The graph pairs each image with both states and guides.
		return d.byImages(x, nb, t, d.paired)
	}
	// Different prompt lengths, or one image: the unconditional and
	// conditional passes as two executions.
	in := d.tensor(x, nb)
	if err := d.onDevice(in); err != nil {
		return nil, err
	}
	var u, c []float32
	err := parallel.ForWidth(2, d.width, func(i int) error {
		var err error
		if i == 0 {
			u, err = d.p.noisePrediction(in, t, d.scale, d.uncond)
		} else {
			c, err = d.p.noisePrediction(in, t, d.scale, d.cond)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for i := range u {
		u[i] += d.cfg * (c[i] - u[i])
	}
	return u, nil
}

// byImages runs the graph on up to width contiguous parts of the batch at
// once, each part under the same states, and returns their predictions in
// order.
func (d *denoiser) byImages(x []float32, nb int, t *tensors.Tensor, states []any) ([]float32, error) {
	parts := min(d.width, nb)
	if parts == 1 {
		return d.p.noisePrediction(d.tensor(x, nb), t, d.scale, states)
	}
	out := make([]float32, len(x))
	per := (nb + parts - 1) / parts
	return out, parallel.ForWidth(parts, parts, func(i int) error {
		lo, hi := i*per, min((i+1)*per, nb)
		if lo >= hi {
			return nil
		}
		n := d.imagesFlat
		eps, err := d.p.noisePrediction(d.tensor(x[lo*n:hi*n], hi-lo), t, d.scale, states)
		copy(out[lo*n:], eps)
		return err
	})
}

// tensor wraps nb images' latents [nb, lc, h, w].
func (d *denoiser) tensor(x []float32, nb int) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(x, nb, d.lc, d.h, d.w)
}
