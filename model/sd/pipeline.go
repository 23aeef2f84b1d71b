package sd

import (
	gocontext "context"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/gcsetting"
	"kata/model/parallel"
	"kata/model/scheduler"
)

// Pipeline generates images from prompts with a loaded model: text encoding,
// classifier-free guidance, a sampler from package scheduler, VAE decoding
// and optional image-to-image. Its graphs are compiled on first use and
// reused for every step and image of the same size. A Pipeline runs one
// generation at a time (calls are serialised).
type Pipeline struct {
	Model     *Model
	Backend   backends.Backend
	Scheduler scheduler.Config

	mu               sync.Mutex
	unetExec, decode *context.Exec
	encodeImage      *context.Exec
	textExecs        map[string]*context.Exec
}

// NewPipeline prepares generation with m on backend, with the model's
// scheduler config (Model.Scheduler) and tokenizer.
func NewPipeline(backend backends.Backend, m *Model) (*Pipeline, error) {
	if m.UNet.InChannels != m.VAE.LatentChannels || m.UNet.OutChannels != m.VAE.LatentChannels {
		// Inpainting UNets take 9 channels (latent, mask, masked image).
		return nil, fmt.Errorf("pipeline: the UNet takes %d channels and the VAE makes %d: inpainting models are not supported",
			m.UNet.InChannels, m.VAE.LatentChannels)
	}
	if m.Tokenizer == nil || m.Scheduler.NumTrainTimesteps == 0 {
		return nil, fmt.Errorf("pipeline: the model has no tokenizer or scheduler config (models come from Load or NewRandom)")
	}
	p := &Pipeline{Model: m, Backend: backend, Scheduler: m.Scheduler, textExecs: map[string]*context.Exec{}}
	var err error
	p.unetExec, err = context.NewExec(backend, m.Ctx, guidedUNet)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p.decode, err = context.NewExec(backend, m.Ctx, func(ctx *context.Context, latents *Node) *Node {
		return VAEDecode(ctx, DivScalar(latents, m.VAE.ScalingFactor))
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	p.encodeImage, err = context.NewExec(backend, m.Ctx, func(ctx *context.Context, images *Node) (*Node, *Node) {
		return VAEEncode(ctx, images)
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return p, nil
}

// Finalize frees the compiled graphs; the pipeline must not be used
// afterwards (the model stays usable).
func (p *Pipeline) Finalize() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range []*context.Exec{p.unetExec, p.decode, p.encodeImage} {
		e.Finalize()
	}
	for _, e := range p.textExecs {
		e.Finalize()
	}
	p.textExecs = map[string]*context.Exec{}
}

// guidedUNet takes inputs [latents [N,C,h,w], timestep [1], guidance [],
// states...] where each state is [2, L, D] (unconditional first) or [1, L, D]
// (no guidance), shared by the N images, and returns the (guided) noise
// prediction [N, C, h, w]. Guided, the UNet runs once on 2N samples: the N
// images under the unconditional states, then under the conditional ones.
func guidedUNet(ctx *context.Context, inputs []*Node) *Node {
	x, t, scale, states := inputs[0], inputs[1], inputs[2], inputs[3:]
	n := x.Shape().Dimensions[0]
	if states[0].Shape().Dimensions[0] == 1 {
		return UNet(ctx, x, BroadcastToDims(t, n), states)
	}
	if n > 1 {
		paired := make([]*Node, len(states))
		for i, s := range states {
			d := s.Shape().Dimensions
			u := BroadcastToDims(Slice(s, AxisRange(0, 1)), n, d[1], d[2])
			c := BroadcastToDims(Slice(s, AxisRange(1, 2)), n, d[1], d[2])
			paired[i] = Concatenate([]*Node{u, c}, 0)
		}
		states = paired
	}
	xs := Concatenate([]*Node{x, x}, 0)
	ts := BroadcastToDims(t, 2*n)
	pred := UNet(ctx, xs, ts, states)
	uncond, cond := Slice(pred, AxisRange(0, n)), Slice(pred, AxisRange(n, 2*n))
	return Add(uncond, Mul(scale, Sub(cond, uncond)))
}

// Generation defaults of the pipeline (zero GenerateOptions fields).
const (
	DefaultSteps    = 20
	DefaultSampler  = "ddim"
	DefaultCFG      = 7.5
	DefaultStrength = 0.75 // image-to-image
)

// GenerateOptions describe one image. Zero values take the defaults noted.
type GenerateOptions struct {
	Prompt, Negative string
	Steps            int    // DefaultSteps
	Sampler          string // DefaultSampler; canonical or AUTOMATIC1111 names
	// ScheduleType is AUTOMATIC1111's "Schedule type" (id or label, see
	// scheduler.ScheduleTypes); "" or "Automatic" keeps the sampler name's
	// own. Only k-diffusion samplers take other schedules.
	ScheduleType  string
	CFG           float64 // DefaultCFG; at most 1 disables guidance (no negative prompt pass)
	Seed          uint64
	Width, Height int // the UNet's native size, 512 for SD 1.x; multiples of 8
	// ClipSkip is AUTOMATIC1111's "Clip skip" (0 or 1: the full text encoder).
	ClipSkip int
	// InitImage starts image-to-image from this picture (resized to
	// Width x Height) at Strength in (0, 1] (DefaultStrength when zero).
	InitImage image.Image
	Strength  float64
	// InitNoise replaces the seeded starting noise (text-to-image only),
	// [1, 4, Height/8, Width/8] flat; for reproducing external references.
	InitNoise []float32
	// Identifiers are learned tokens the prompts may mention.
	Identifiers []Identifier
	// DecodeTile > 0 decodes the final latents in tiles of that many latents
	// a side (8 pixels each for SD 1.x), overlapping by a third of a tile and
	// blended across the overlaps (vaetile.go): the decoder's memory is then
	// that of a tile, and pixels near the seams differ slightly from an
	// untiled decode. 0 tiles with DefaultDecodeTile only when the untiled
	// decoder would not fit in the memory available; < 0 never tiles.
	DecodeTile int
	// MemoryLimit is the Go runtime's soft memory limit (bytes) while the
	// generation runs, restored afterwards (memlimit.go): 0 sizes it from
	// the model's weights and the estimated activations (their 3/2 plus
	// MemoryLimitSlack), > 0 is taken as is, < 0 leaves the runtime's. It
	// never raises a lower limit already set (GOMEMLIMIT). It bounds the
	// pure-Go backend's heap, whose garbage and pooled buffers otherwise grow
	// until the heap doubles; other backends' tensors are not on the Go heap.
	MemoryLimit int64
	// OnStep is called after every sampler step with the step number
	// (1-based), the number of steps run and the current latents.
	OnStep func(step, total int, latents []float32)
	// OnSampling, if set, is called once when the prompts are encoded and
	// the first sampler step is about to start.
	OnSampling func()
	// Concurrent is how many graph executions of a step (parts of the
	// batch, or one image's unconditional and conditional passes) and how
	// many images' decodes run at once. 0 is DefaultConcurrent on the
	// pure-Go backend at latents of at most SmallLatent a side, else 1. The
	// images are the same, up to the kernels' rounding by matrix shape.
	Concurrent int
}

// Result is a generated image and how it was made.
type Result struct {
	Image   *image.NRGBA
	Latents []float32       // final latents [1, C, h, w], flat
	Decoded []float32       // VAE output [1, 3, H, W], flat, before clamping
	Options GenerateOptions // with defaults filled in
	Sampler string          // canonical sampler name, schedule included ("dpmpp_2m_karras")
}

func (p *Pipeline) defaults(o GenerateOptions) (GenerateOptions, error) {
	if o.Steps == 0 {
		o.Steps = DefaultSteps
	}
	if o.Sampler == "" {
		o.Sampler = DefaultSampler
	}
	if o.CFG == 0 {
		o.CFG = DefaultCFG
	}
	native := p.Model.NativeSize()
	if o.Width == 0 {
		o.Width = native
	}
	if o.Height == 0 {
		o.Height = native
	}
	if o.ClipSkip == 0 {
		o.ClipSkip = 1
	}
	if o.InitImage != nil && o.Strength == 0 {
		o.Strength = DefaultStrength
	}
	mult := 1 << (len(p.Model.VAE.BlockOutChannels) - 1)
	switch {
	case o.Steps < 1 || o.Steps > 1000:
		return o, fmt.Errorf("steps %d outside 1..1000", o.Steps)
	case o.Width <= 0 || o.Height <= 0 || o.Width%mult != 0 || o.Height%mult != 0:
		return o, fmt.Errorf("size %dx%d: width and height must be positive multiples of %d", o.Width, o.Height, mult)
	case o.ClipSkip < 1 || o.ClipSkip > p.Model.Text.NumHiddenLayers:
		return o, fmt.Errorf("clip skip %d outside 1..%d", o.ClipSkip, p.Model.Text.NumHiddenLayers)
	case math.IsNaN(o.CFG) || math.IsInf(o.CFG, 0) || o.CFG < 0:
		return o, fmt.Errorf("guidance scale %g must be a finite number >= 0", o.CFG)
	}
	return o, checkBounds(o)
}

// Generate makes one image. It stops between steps when ctx is cancelled
// and returns ctx's error then. The same options (seed included) give the
// same image on the same backend.
func (p *Pipeline) Generate(ctx gocontext.Context, opts GenerateOptions) (*Result, error) {
	res, err := p.GenerateBatch(ctx, opts, []uint64{opts.Seed})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// MaxBatch is the most images GenerateBatch makes in one call.
const MaxBatch = 64

// GenerateBatch makes one image per seed (1 to MaxBatch of them) from the
// same options (opts.Seed is ignored), running the UNet once per sampler
// step on all of them. Image i gets its own starting noise and sampler
// noise from seeds[i], so it is the image Generate makes with that seed.
// OnStep gets the latents of every image, [N, C, h, w] flat. InitNoise
// takes a single seed. It stops between steps when ctx is cancelled and
// returns ctx's error then.
func (p *Pipeline) GenerateBatch(ctx gocontext.Context, opts GenerateOptions, seeds []uint64) ([]*Result, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	nb := len(seeds)
	if nb < 1 || nb > MaxBatch {
		return nil, fmt.Errorf("generate: %d seeds, want 1 to %d", nb, MaxBatch)
	}
	if opts.InitNoise != nil && nb > 1 {
		return nil, fmt.Errorf("generate: init noise makes one image, not %d", nb)
	}
	o, err := p.defaults(opts)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if err := p.Model.checkBatchMemory(o, nb); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	defer gcsetting.HoldLimit(p.Model.generationLimit(o, nb))()
	samplers := make([]scheduler.Sampler, nb)
	for j := range samplers {
		if samplers[j], err = scheduler.NewScheduled(o.Sampler, o.ScheduleType, p.Scheduler, o.Steps); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	}
	sampler := samplers[0]
	canonical := sampler.Name()
	guided := o.CFG > 1
	cond, uncond, err := p.encodePrompts(o.Prompt, o.Negative, o.Identifiers, o.ClipSkip, guided)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	lc := p.Model.UNet.InChannels
	factor := 1 << (len(p.Model.VAE.BlockOutChannels) - 1)
	h, w := o.Height/factor, o.Width/factor
	n := lc * h * w
	width := p.concurrency(o, max(h, w))
	if !guided {
		uncond = nil
	}
	// A prompt and a negative prompt of different lengths (in 75-token
	// chunks) run as two UNet passes, as AUTOMATIC1111 runs them without
	// its "pad prompt/negative prompt" option.
	den, err := p.newDenoiser(lc, h, w, o.CFG, cond, uncond, width)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	rngs := make([]*rand.Rand, nb)
	xs := make([][]float32, nb)
	start := 0
	for j, seed := range seeds {
		rngs[j] = scheduler.NewRNG(seed)
		switch {
		case o.InitImage != nil:
			x0, err := p.imageLatents(o.InitImage, o.Width, o.Height, rngs[j])
			if err != nil {
				return nil, fmt.Errorf("generate: init image: %w", err)
			}
			if start, xs[j], err = scheduler.Img2ImgLatents(samplers[j], x0, o.Strength, rngs[j]); err != nil {
				return nil, fmt.Errorf("generate: %w", err)
			}
		case o.InitNoise != nil:
			if len(o.InitNoise) != n {
				return nil, fmt.Errorf("generate: init noise has %d values, want %d", len(o.InitNoise), n)
			}
			xs[j] = slices.Clone(o.InitNoise)
			if s := float32(sampler.InitNoiseSigma()); s != 1 {
				for i := range xs[j] {
					xs[j][i] *= s
				}
			}
		default:
			xs[j] = scheduler.InitialNoise(samplers[j], rngs[j], n)
		}
	}

	timesteps := sampler.Timesteps()
	total := sampler.Len() - start
	batch := make([]float32, nb*n)
	if o.OnSampling != nil {
		o.OnSampling()
	}
	for i := start; i < sampler.Len(); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for j := range xs {
			copy(batch[j*n:], samplers[j].ScaleModelInput(xs[j], i))
		}
		t := tensors.FromFlatDataAndDimensions([]float32{float32(timesteps[i])}, 1)
		eps, err := den.predict(batch, nb, t)
		if err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
		}
		for j := range xs {
			if xs[j], err = samplers[j].Step(eps[j*n:(j+1)*n], i, xs[j], rngs[j]); err != nil {
				return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
			}
			if err := nonFiniteLatents(xs[j], i+1, o.CFG); err != nil {
				return nil, fmt.Errorf("generate: %w", err)
			}
		}
		if o.OnStep != nil {
			latents := xs[0]
			if nb > 1 {
				latents = slices.Concat(xs...)
			}
			o.OnStep(i-start+1, total, latents)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make([]*Result, nb)
	// One image per execution (the VAE's cost is one pass, not one per
	// step), width of them at once.
	err = parallel.ForWidth(nb, width, func(j int) error {
		decoded, err := p.decodeLatents(xs[j], lc, h, w, p.Model.decodeTile(o))
		if err != nil {
			return fmt.Errorf("generate: decode: %w", err)
		}
		oj := o
		oj.Seed = seeds[j]
		out[j] = &Result{Image: ToImage(decoded, o.Width, o.Height), Latents: xs[j], Decoded: decoded,
			Options: oj, Sampler: canonical}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeLatents runs the VAE decoder on latents x [1, lc, h, w], in tiles of
// tile latents a side when tile > 0, and returns the image [1, C, H, W] flat.
func (p *Pipeline) decodeLatents(x []float32, lc, h, w, tile int) ([]float32, error) {
	if tile <= 0 || (tile >= h && tile >= w) {
		dec, err := p.decode.Exec1(tensors.FromFlatDataAndDimensions(x, 1, lc, h, w))
		if err != nil {
			return nil, err
		}
		defer dec.FinalizeAll()
		return tensors.CopyFlatData[float32](dec)
	}
	out, _, err := decodeTiled(x, lc, h, w, tile, tile/3, p.Model.VAE.Factor(),
		func(t *tensors.Tensor) (*tensors.Tensor, error) { return p.decode.Exec1(t) })
	return out, err
}

// noisePrediction runs guidedUNet once: latents in [1, C, h, w], timestep
// t [1], guidance scale [], states [2, L, D] (guided) or [1, L, D] each.
func (p *Pipeline) noisePrediction(in, t, scale *tensors.Tensor, states []any) ([]float32, error) {
	out, err := p.unetExec.Exec(append([]any{in, t, scale}, states...)...)
	if err != nil {
		return nil, err
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// stateLen is the sequence length L of text encoder states [B, L, D].
func stateLen(states []any) int { return states[0].(*tensors.Tensor).Shape().Dimensions[1] }

// imageLatents encodes an init image to scaled latents, sampling the VAE
// posterior with rng.
func (p *Pipeline) imageLatents(img image.Image, width, height int, rng interface{ NormFloat64() float64 }) ([]float32, error) {
	pix, err := FromImage(img, width, height)
	if err != nil {
		return nil, err
	}
	out, err := p.encodeImage.Exec(tensors.FromFlatDataAndDimensions(pix, 1, 3, height, width))
	if err != nil {
		return nil, err
	}
	mean := tensors.MustCopyFlatData[float32](out[0])
	logvar := tensors.MustCopyFlatData[float32](out[1])
	sf := float32(p.Model.VAE.ScalingFactor)
	x := make([]float32, len(mean))
	for i := range x {
		std := float32(math.Exp(0.5 * float64(logvar[i])))
		x[i] = (mean[i] + std*float32(rng.NormFloat64())) * sf
	}
	return x, nil
}
