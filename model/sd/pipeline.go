package sd

import (
	gocontext "context"
	"fmt"
	"image"
	"math"
	"slices"
	"sync"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

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

// guidedUNet takes inputs [latents [1,C,h,w], timestep [1], guidance [],
// states...] where each state is [2, L, D] (unconditional first) or [1, L, D]
// (no guidance) and returns the (guided) noise prediction [1, C, h, w].
func guidedUNet(ctx *context.Context, inputs []*Node) *Node {
	x, t, scale, states := inputs[0], inputs[1], inputs[2], inputs[3:]
	b := states[0].Shape().Dimensions[0]
	if b == 1 {
		return UNet(ctx, x, t, states)
	}
	xs := Concatenate([]*Node{x, x}, 0)
	ts := Concatenate([]*Node{t, t}, 0)
	pred := UNet(ctx, xs, ts, states)
	uncond, cond := Slice(pred, AxisRange(0, 1)), Slice(pred, AxisRange(1, 2))
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
	// OnStep is called after every sampler step with the step number
	// (1-based), the number of steps run and the current latents.
	OnStep func(step, total int, latents []float32)
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
	p.mu.Lock()
	defer p.mu.Unlock()
	o, err := p.defaults(opts)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if err := p.Model.checkMemory(o); err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	sampler, err := scheduler.NewScheduled(o.Sampler, o.ScheduleType, p.Scheduler, o.Steps)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	canonical := sampler.Name()
	guided := o.CFG > 1
	cond, uncond, err := p.encodePrompts(o.Prompt, o.Negative, o.Identifiers, o.ClipSkip, guided)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	states := cond
	// A prompt and a negative prompt of different lengths (in 75-token
	// chunks) run as two UNet passes, as AUTOMATIC1111 runs them without
	// its "pad prompt/negative prompt" option.
	separate := guided && stateLen(cond) != stateLen(uncond)
	if guided && !separate {
		states = pairStates(uncond, cond)
	}

	lc := p.Model.UNet.InChannels
	factor := 1 << (len(p.Model.VAE.BlockOutChannels) - 1)
	h, w := o.Height/factor, o.Width/factor
	n := lc * h * w
	rng := scheduler.NewRNG(o.Seed)
	start := 0
	var x []float32
	switch {
	case o.InitImage != nil:
		x0, err := p.imageLatents(o.InitImage, o.Width, o.Height, rng)
		if err != nil {
			return nil, fmt.Errorf("generate: init image: %w", err)
		}
		if start, x, err = scheduler.Img2ImgLatents(sampler, x0, o.Strength, rng); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
	case o.InitNoise != nil:
		if len(o.InitNoise) != n {
			return nil, fmt.Errorf("generate: init noise has %d values, want %d", len(o.InitNoise), n)
		}
		x = slices.Clone(o.InitNoise)
		if s := float32(sampler.InitNoiseSigma()); s != 1 {
			for i := range x {
				x[i] *= s
			}
		}
	default:
		x = scheduler.InitialNoise(sampler, rng, n)
	}

	timesteps := sampler.Timesteps()
	scale := tensors.FromScalar(float32(o.CFG))
	total := sampler.Len() - start
	for i := start; i < sampler.Len(); i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		in := tensors.FromFlatDataAndDimensions(sampler.ScaleModelInput(x, i), 1, lc, h, w)
		t := tensors.FromFlatDataAndDimensions([]float32{float32(timesteps[i])}, 1)
		var eps []float32
		if separate {
			eps, err = p.separateGuidance(in, t, scale, float32(o.CFG), uncond, cond)
		} else {
			eps, err = p.noisePrediction(in, t, scale, states)
		}
		if err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
		}
		if x, err = sampler.Step(eps, i, x, rng); err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", i+1, err)
		}
		if err := nonFiniteLatents(x, i+1, o.CFG); err != nil {
			return nil, fmt.Errorf("generate: %w", err)
		}
		if o.OnStep != nil {
			o.OnStep(i-start+1, total, x)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	decoded, err := p.decodeLatents(x, lc, h, w, p.Model.decodeTile(o))
	if err != nil {
		return nil, fmt.Errorf("generate: decode: %w", err)
	}
	return &Result{Image: ToImage(decoded, o.Width, o.Height), Latents: x, Decoded: decoded,
		Options: o, Sampler: canonical}, nil
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

// separateGuidance is classifier-free guidance with one UNet pass for the
// unconditional states and one for the conditional ones ([1, L, D] each,
// of different L): uncond + cfg·(cond − uncond).
func (p *Pipeline) separateGuidance(in, t, scale *tensors.Tensor, cfg float32, uncond, cond []any) ([]float32, error) {
	u, err := p.noisePrediction(in, t, scale, uncond)
	if err != nil {
		return nil, err
	}
	c, err := p.noisePrediction(in, t, scale, cond)
	if err != nil {
		return nil, err
	}
	for i := range u {
		u[i] += cfg * (c[i] - u[i])
	}
	return u, nil
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
