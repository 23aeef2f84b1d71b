package sdtrain

import (
	"fmt"
	"math"
	"slices"
	"time"

	"kata/model/scheduler"
	"kata/model/sd"
)

// The unet loss weightings (Options.Weighting).
const (
	WeightingUniform = ""   // every timestep alike: SD's epsilon MSE
	WeightingP2      = "p2" // P2 (Choi et al. 2022, k=1, gamma=1): weight 1/(1+SNR(t)), shifting the loss from the nearly clean timesteps to the noisy ones, where a sample's content (kind, colour, pose) is decided
)

// TimestepWeight is the loss weight of a timestep whose cumulative alpha is
// alphaCumprod under weighting w (1 for WeightingUniform).
func TimestepWeight(w string, alphaCumprod float64) float64 {
	if w != WeightingP2 {
		return 1
	}
	snr := alphaCumprod / (1 - alphaCumprod)
	return 1 / (1 + snr)
}

// Stage is one training stage.
type Stage string

// The stages, in the order a model is trained.
const (
	StageVAE  Stage = "vae"  // the autoencoder alone
	StageUNet Stage = "unet" // text encoder and UNet, VAE frozen
)

// ParseStage reads "vae" or "unet".
func ParseStage(s string) (Stage, error) {
	switch Stage(s) {
	case StageVAE, StageUNet:
		return Stage(s), nil
	}
	return "", fmt.Errorf("unknown stage %q (want vae or unet)", s)
}

// Architecture is the model being trained: the three component configs and
// the noise schedule (diffusers' scheduler config).
type Architecture struct {
	Text      *sd.TextConfig
	UNet      *sd.UNetConfig
	VAE       *sd.VAEConfig
	Scheduler scheduler.Config
}

// Factor is the VAE's downsampling factor, 2^(blocks-1).
func (a Architecture) Factor() int { return a.VAE.Factor() }

// ImageSize is the native image size: the UNet's sample size times Factor.
func (a Architecture) ImageSize() int { return a.UNet.SampleSize * a.Factor() }

// Options configures one stage of a run. Zero values take the defaults noted.
type Options struct {
	Stage Stage // required
	Steps int   // optimiser steps; required
	Batch int   // samples per step; default 8
	Seed  uint64

	LR     float64 // peak learning rate; default 1e-3 (vae) or 5e-4 (unet)
	Warmup int     // linear warmup steps; default min(500, Steps/10)
	Cosine bool    // cosine decay to 0 after warmup; false keeps LR constant
	// Restarts are the steps (ascending, inside (Warmup, Steps)) where the
	// cosine warm-restarts at LR (SGDR): a run of Steps with restarts at R
	// repeats, up to step R, exactly the run of R steps without them, so a
	// finished run of R steps resumes as its first cycle.
	Restarts    []int
	WeightDecay float64 // AdamW decoupled decay; default 1e-2 (negative: none)
	ClipNorm    float64 // clip the gradient's global norm to this; default 1 (negative: no clipping)
	EMADecay    float64 // EMA decay (with diffusers' warmup (1+t)/(10+t)); default 0.999
	CaptionDrop float64 // unet: share of captions replaced by ""; default 0.1 (negative: none)
	KLWeight    float64 // vae: KL weight; default 1e-6
	// Weighting is the unet loss's weight per timestep: "" (WeightingUniform,
	// SD's plain epsilon MSE) or WeightingP2.
	Weighting string
	// InitFrom is a unet-stage checkpoint (or a diffusers folder of the same
	// architecture, such as an exported model) whose weights (VAE included),
	// EMA and scaling factor a fresh unet run starts from, instead of random
	// weights and the vae stage's checkpoint: fine-tuning a model, or
	// continuing a run with changed settings. The optimiser starts afresh
	// (moments zero, Warmup applies). Ignored when the run resumes from its
	// own checkpoint, which must have been started from the same one (then
	// only a checkpoint file's metadata, or a folder's configs and its UNet
	// file's hash, are read).
	InitFrom string

	// CheckpointDir holds the stage checkpoints (vae.safetensors,
	// unet.safetensors) and loss curves; required. The unet stage reads the
	// finished vae checkpoint from it.
	CheckpointDir string
	// CheckpointEvery is the wall time between checkpoints; default 5 minutes.
	// A checkpoint is also written at the end and when the context is cancelled.
	CheckpointEvery time.Duration
	// Resume continues the stage from its checkpoint when one exists.
	Resume bool
	// LatentSamples is how many images the vae stage encodes to measure the
	// latent standard deviation; default 256.
	LatentSamples int
	// NoPreview turns off the preview PNG written with the first checkpoint
	// of a session, the last one, and the first after every PreviewEvery
	// (default 20 minutes; unet previews cost about a minute on 2 cores):
	// for the vae stage 8 renders over their reconstructions, for the unet
	// stage 8 seeds of each PreviewPrompts entry (none: no preview), both
	// with the EMA weights (see PreviewPath).
	NoPreview      bool
	PreviewEvery   time.Duration
	PreviewPrompts []string

	// Serial does a step's host work (drawing and rendering the batch,
	// tokenising, noise, clipping, AdamW, EMA) on the calling goroutine, in
	// the order of the step, instead of spreading it over the cores and
	// drawing the next batch while the current step's graph runs. The
	// results are bit for bit the same either way; it exists for the
	// benchmark and the test that show it.
	Serial bool

	// Shards splits each step's batch into this many equal parts (Batch must
	// be a multiple) whose losses and gradients are computed by concurrent
	// executions of the graph and averaged: the same batch mean, so the same
	// training, but the float sums run in another order, so a run's exact
	// numbers depend on it (its checkpoints resume only with the same
	// count). On the pure-Go backend a small model's graph keeps about 1.5
	// of 2 cores busy (it runs one node at a time); two executions at once
	// fill both. Default 1.
	Shards int
}

func (o Options) withDefaults() (Options, error) {
	if _, err := ParseStage(string(o.Stage)); err != nil {
		return o, err
	}
	if o.Steps < 1 {
		return o, fmt.Errorf("steps %d: want at least 1", o.Steps)
	}
	if o.CheckpointDir == "" {
		return o, fmt.Errorf("a checkpoint folder is required")
	}
	if o.Batch == 0 {
		o.Batch = 8
	}
	if o.LR == 0 {
		o.LR = map[Stage]float64{StageVAE: 1e-3, StageUNet: 5e-4}[o.Stage]
	}
	if o.Warmup == 0 {
		o.Warmup = min(500, o.Steps/10)
	}
	if o.WeightDecay == 0 {
		o.WeightDecay = 1e-2
	}
	if o.ClipNorm == 0 {
		o.ClipNorm = 1
	}
	if o.EMADecay == 0 {
		o.EMADecay = 0.999
	}
	if o.CaptionDrop == 0 {
		o.CaptionDrop = 0.1
	}
	if o.KLWeight == 0 {
		o.KLWeight = 1e-6
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = 5 * time.Minute
	}
	if o.PreviewEvery == 0 {
		o.PreviewEvery = 20 * time.Minute
	}
	if o.LatentSamples == 0 {
		o.LatentSamples = 256
	}
	if o.Shards == 0 {
		o.Shards = 1
	}
	switch {
	case o.Batch < 1:
		return o, fmt.Errorf("batch %d: want at least 1", o.Batch)
	case o.Shards < 1 || o.Batch%o.Shards != 0:
		return o, fmt.Errorf("shards %d: want a positive divisor of the batch %d", o.Shards, o.Batch)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return o, fmt.Errorf("learning rate %g: want a positive number", o.LR)
	case o.Warmup < 0:
		return o, fmt.Errorf("warmup %d: want 0 or more steps", o.Warmup)
	case !(o.EMADecay > 0 && o.EMADecay < 1):
		return o, fmt.Errorf("EMA decay %g outside (0, 1)", o.EMADecay)
	case !restartsValid(o):
		return o, fmt.Errorf("restarts %v: want ascending steps between warmup %d and steps %d", o.Restarts, o.Warmup, o.Steps)
	case o.CaptionDrop > 1:
		return o, fmt.Errorf("caption dropout %g above 1", o.CaptionDrop)
	case o.Weighting != WeightingUniform && o.Weighting != WeightingP2:
		return o, fmt.Errorf("loss weighting %q: want %q or %q", o.Weighting, WeightingUniform, WeightingP2)
	case (o.Weighting != WeightingUniform || o.InitFrom != "") && o.Stage != StageUNet:
		return o, fmt.Errorf("a loss weighting and an initial checkpoint apply to the unet stage only")
	case o.LatentSamples < 2:
		return o, fmt.Errorf("latent samples %d: want at least 2", o.LatentSamples)
	}
	return o, nil
}

// LearningRate is the rate of step (0-based) of a run: linear warmup from
// LR/Warmup to LR over Warmup steps, then constant or (Cosine) half a cosine
// down to 0 at the first of Restarts, back at LR there, down to 0 at the
// next, and so on to Steps.
func (o Options) LearningRate(step int) float64 {
	if step < o.Warmup {
		return o.LR * float64(step+1) / float64(o.Warmup)
	}
	if !o.Cosine || o.Steps <= o.Warmup {
		return o.LR
	}
	start, end := o.Warmup, o.Steps
	for _, r := range o.Restarts {
		if step < r {
			end = r
			break
		}
		start = r
	}
	p := float64(step-start) / float64(end-start)
	return o.LR * 0.5 * (1 + math.Cos(math.Pi*p))
}

// WithSteps returns o for a run of n steps instead: the warmup at most a
// tenth of n (at least 1) and the restarts that still fall inside.
func (o Options) WithSteps(n int) Options {
	o.Steps = n
	o.Warmup = min(o.Warmup, max(1, n/10))
	o.Restarts = slices.DeleteFunc(slices.Clone(o.Restarts), func(r int) bool { return r <= o.Warmup || r >= n })
	return o
}

// restartsValid reports whether o.Restarts ascend strictly inside
// (o.Warmup, o.Steps).
func restartsValid(o Options) bool {
	last := o.Warmup
	for _, r := range o.Restarts {
		if r <= last || r >= o.Steps {
			return false
		}
		last = r
	}
	return true
}

// cycle returns o cut to its first cycles: Steps = the restart at index i,
// the restarts before it. A checkpoint of that run continues o.
func (o Options) cycle(i int) Options {
	c := o
	c.Steps, c.Restarts = o.Restarts[i], o.Restarts[:i]
	return c
}

// emaDecay is diffusers' EMAModel decay at update number t (1-based):
// min(decay, (1+t)/(10+t)).
func emaDecay(decay float64, t int) float64 {
	return min(decay, float64(1+t)/float64(10+t))
}
