package sdtrain

import (
	gocontext "context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/adi"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/tokenizer"
)

// EventKind tells what a progress Event reports.
type EventKind int

// Event kinds.
const (
	EventStep       EventKind = iota // one optimiser step finished
	EventCheckpoint                  // Path holds the checkpoint written
	EventMessage                     // Message says what is being done
)

// Event is a typed progress report of a stage.
type Event struct {
	Kind        EventKind
	Stage       Stage
	Step, Steps int           // steps done, steps of the stage
	Loss        float64       // this step's loss
	Smoothed    float64       // exponentially smoothed loss (weight 0.05 per step)
	LR          float64       // learning rate of this step
	GradNorm    float64       // global gradient norm before clipping
	StepsPerSec float64       // speed of this session
	ETA         time.Duration // estimated time left in the stage
	Path        string        // EventCheckpoint
	Message     string        // EventMessage
}

// Result is what a finished stage leaves.
type Result struct {
	Stage         Stage
	Steps         int
	Checkpoint    string    // the stage's final checkpoint
	ScalingFactor float64   // vae: measured 1/std of the latents; unet: the one used
	Losses        []float32 // loss of every step
}

// Train runs one stage of training with the Kata backend be, drawing data
// from src, and returns when it is done (its final checkpoint written) or
// when ctx is cancelled (a checkpoint written first; resume with
// Options.Resume). A finished stage that is resumed returns at once. The unet
// stage starts from the finished vae stage in the same checkpoint folder.
// onEvent (may be nil) is called from the calling goroutine.
func Train(ctx gocontext.Context, be backends.Backend, arch Architecture, src Source, opts Options, onEvent func(Event)) (*Result, error) {
	if onEvent == nil {
		onEvent = func(Event) {}
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	r, err := newRun(be, arch, src, o, onEvent)
	if err != nil {
		return nil, fmt.Errorf("train %s: %w", o.Stage, err)
	}
	res, err := r.loop(ctx)
	if err != nil && !errors.Is(err, gocontext.Canceled) && !errors.Is(err, gocontext.DeadlineExceeded) {
		return nil, fmt.Errorf("train %s: %w", o.Stage, err)
	}
	return res, err
}

// run is a prepared stage.
type run struct {
	o       Options
	arch    Architecture
	src     Source
	be      backends.Backend
	onEvent func(Event)
	path    string
	fp      string

	model  *sd.Model
	keys   []string // every model variable, sorted
	vars   map[string]*context.Variable
	shapes map[string][]int
	train  []string // trained keys, sorted
	offs   []int    // offsets of train[i] in params
	params []float32
	grad   []float32 // the last step's gradient, reused
	ema    []float32
	adam   *adi.AdamW
	pcg    *rand.PCG // the training RNG; drawn from by the inputs goroutine while the loop runs
	rng    []byte    // pcg's state after the inputs of the last step done: what a checkpoint holds
	step   int
	losses []float32
	sf     float64
	done   bool

	tok   *tokenizer.Tokenizer
	sched *scheduler.Schedule
	exec  *context.Exec
	recon *context.Exec // vae previews, compiled on first use
	pipe  *sd.Pipeline  // unet previews, made on first use

	lastPreview time.Time // when this session last wrote a preview

	init   *checkpoint // Options.InitFrom's checkpoint, while the run is set up
	initFP string      // its fingerprint and step, part of this run's fingerprint
}

func newRun(be backends.Backend, arch Architecture, src Source, o Options, onEvent func(Event)) (*run, error) {
	if arch.Text == nil || arch.UNet == nil || arch.VAE == nil {
		return nil, fmt.Errorf("architecture lacks a component config")
	}
	if err := os.MkdirAll(o.CheckpointDir, 0o755); err != nil {
		return nil, err
	}
	vae := *arch.VAE
	arch.VAE = &vae // the scaling factor is the run's to set
	r := &run{o: o, arch: arch, src: src, be: be, onEvent: onEvent, path: CheckpointPath(o.CheckpointDir, o.Stage),
		pcg: rand.NewPCG(o.Seed, 0x7364747261696e), sf: arch.VAE.ScalingFactor}
	var err error
	if r.sched, err = scheduler.NewSchedule(arch.Scheduler); err != nil {
		return nil, err
	}
	if r.model, err = sd.NewRandom(arch.Text, arch.UNet, arch.VAE, o.Seed); err != nil {
		return nil, err
	}
	r.tok = r.model.Tokenizer
	r.vars, r.shapes = map[string]*context.Variable{}, map[string][]int{}
	for v := range r.model.Ctx.IterVariables() {
		k := sd.VariableKey(v)
		r.vars[k], r.shapes[k] = v, v.Shape().Dimensions
		r.keys = append(r.keys, k)
	}
	slices.Sort(r.keys)
	prefixes := map[Stage][]string{StageVAE: {sd.ComponentVAE + "/"}, StageUNet: {sd.ComponentUNet + "/", sd.ComponentText + "/"}}[o.Stage]
	for _, k := range r.keys {
		for _, p := range prefixes {
			if strings.HasPrefix(k, p) {
				r.train = append(r.train, k)
			}
		}
	}

	var resumed *checkpoint
	if o.Resume {
		c, err := loadCheckpoint(r.path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			resumed = c
		}
	}
	if o.InitFrom != "" {
		if r.init, err = loadInit(o.InitFrom, resumed != nil); err != nil {
			return nil, fmt.Errorf("initial checkpoint: %w", err)
		}
		if r.init.Stage != StageUNet {
			return nil, fmt.Errorf("initial checkpoint %s is of the %s stage, want unet", o.InitFrom, r.init.Stage)
		}
		r.sf = r.init.ScalingFactor
		r.arch.VAE.ScalingFactor = r.sf
		r.initFP = fmt.Sprintf("%s@%d", r.init.Fingerprint, r.init.Step)
	}
	if resumed == nil && r.init != nil {
		for _, k := range r.keys {
			w, ok := r.init.Weights[k]
			if !ok {
				return nil, fmt.Errorf("initial checkpoint %s lacks weight %s: another architecture", o.InitFrom, k)
			}
			if err := r.setWeight(k, w); err != nil {
				return nil, fmt.Errorf("initial checkpoint %s: %w", o.InitFrom, err)
			}
		}
	} else if resumed == nil && o.Stage == StageUNet {
		// The frozen VAE is the vae stage's EMA, with its measured scale.
		vc, err := loadCheckpoint(CheckpointPath(o.CheckpointDir, StageVAE))
		if err != nil {
			return nil, fmt.Errorf("the unet stage needs the finished vae stage: %w", err)
		}
		if !vc.Done {
			return nil, fmt.Errorf("the vae stage in %s stopped at step %d: finish it first", o.CheckpointDir, vc.Step)
		}
		for k, w := range vc.EMA {
			if err := r.setWeight(k, w); err != nil {
				return nil, fmt.Errorf("vae checkpoint: %w", err)
			}
		}
		r.sf = vc.ScalingFactor
		r.arch.VAE.ScalingFactor = r.sf
	}
	// A unet run's scale is part of its fingerprint; a vae run measures its
	// scale at its end, so its fingerprint holds the one it started with.
	if resumed != nil && o.Stage == StageUNet {
		r.sf = resumed.ScalingFactor
		r.arch.VAE.ScalingFactor = r.sf
	}
	if r.fp, err = r.fingerprint(); err != nil {
		return nil, err
	}
	if resumed != nil && o.Stage == StageVAE {
		r.sf = resumed.ScalingFactor
		r.arch.VAE.ScalingFactor = r.sf
	}
	n := 0
	for _, k := range r.train {
		r.offs = append(r.offs, n)
		n += shapeSize(r.shapes[k])
	}
	r.offs = append(r.offs, n)
	wd := o.WeightDecay
	if wd == 0 {
		wd = -1 // adi reads 0 as its default
	}
	r.adam = adi.NewAdamW(adi.AdamWConfig{LR: o.LR, WeightDecay: wd}, n)
	r.params = make([]float32, n)
	if resumed != nil {
		if err := r.restore(resumed); err != nil {
			return nil, fmt.Errorf("resume from %s: %w", r.path, err)
		}
	} else {
		for i, k := range r.train {
			copy(r.params[r.offs[i]:r.offs[i+1]], tensors.MustCopyFlatData[float32](r.vars[k].MustValue()))
		}
	}
	if r.ema == nil && r.init != nil {
		r.ema = make([]float32, n)
		for i, k := range r.train {
			if copy(r.ema[r.offs[i]:r.offs[i+1]], r.init.EMA[k]) != r.offs[i+1]-r.offs[i] {
				return nil, fmt.Errorf("initial checkpoint %s: EMA of %s has %d values", o.InitFrom, k, len(r.init.EMA[k]))
			}
		}
	}
	if r.ema == nil {
		r.ema = slices.Clone(r.params)
	}
	r.init = nil // only its fingerprint stays
	return r, nil
}

// restore puts a checkpoint's state into the run.
func (r *run) restore(c *checkpoint) error {
	continued, err := r.continues(c)
	if err != nil {
		return err
	}
	if c.Stage != r.o.Stage || (c.Fingerprint != r.fp && !continued) {
		return fmt.Errorf("the checkpoint belongs to another run (different stage, architecture or settings)")
	}
	for _, k := range r.keys {
		w, ok := c.Weights[k]
		if !ok {
			return fmt.Errorf("weight %s missing", k)
		}
		if err := r.setWeight(k, w); err != nil {
			return err
		}
	}
	r.ema = make([]float32, len(r.params))
	for i, k := range r.train {
		lo, hi := r.offs[i], r.offs[i+1]
		for _, part := range []struct {
			src []float32
			dst []float32
		}{{c.Weights[k], r.params[lo:hi]}, {c.M[k], r.adam.M[lo:hi]}, {c.V[k], r.adam.V[lo:hi]}, {c.EMA[k], r.ema[lo:hi]}} {
			if len(part.src) != hi-lo {
				return fmt.Errorf("state of %s has %d values, want %d", k, len(part.src), hi-lo)
			}
			copy(part.dst, part.src)
		}
	}
	r.adam.Step, r.step, r.done = c.AdamStep, c.Step, c.Done && !continued
	r.losses = slices.Clone(c.Losses)
	return r.pcg.UnmarshalBinary(c.RNG)
}

// continues reports whether c is a checkpoint of this run's first cycles
// (the run cut at one of its restarts, see Options.Restarts) at or before
// the cut: then this run goes on from it exactly as if it had been started
// with these settings.
func (r *run) continues(c *checkpoint) (bool, error) {
	for i, at := range r.o.Restarts {
		fp, err := r.fingerprintOf(r.o.cycle(i))
		if err != nil {
			return false, err
		}
		if fp == c.Fingerprint && c.Step <= at {
			return true, nil
		}
	}
	return false, nil
}

// setWeight sets variable k to w (its shape checked by size).
func (r *run) setWeight(k string, w []float32) error {
	v, ok := r.vars[k]
	if !ok {
		return fmt.Errorf("weight %s is not in this architecture", k)
	}
	if len(w) != shapeSize(r.shapes[k]) {
		return fmt.Errorf("weight %s has %d values, the architecture calls for %v", k, len(w), r.shapes[k])
	}
	return v.SetValue(tensors.FromFlatDataAndDimensions(w, r.shapes[k]...))
}

// fingerprint hashes what must match for a checkpoint to continue this run.
func (r *run) fingerprint() (string, error) { return r.fingerprintOf(r.o) }

// fingerprintOf hashes the settings o with the run's architecture and
// scaling factor. Runs without restarts hash as they did before restarts
// existed.
func (r *run) fingerprintOf(o Options) (string, error) {
	meta, err := archMetadata(r.arch)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, k := range []string{"text_config", "unet_config", "vae_config", "scheduler_config"} {
		h.Write([]byte(meta[k]))
	}
	fmt.Fprintf(h, "|%s|%d|%d|%d|%g|%d|%v|%g|%g|%g|%g|%g|%x", o.Stage, o.Steps, o.Batch, o.Seed, o.LR, o.Warmup,
		o.Cosine, o.WeightDecay, o.ClipNorm, o.EMADecay, o.CaptionDrop, o.KLWeight, math.Float64bits(r.sf))
	if len(o.Restarts) > 0 {
		fmt.Fprintf(h, "|restarts %v", o.Restarts)
	}
	if o.Weighting != WeightingUniform {
		fmt.Fprintf(h, "|weighting %s", o.Weighting)
	}
	if r.initFP != "" {
		fmt.Fprintf(h, "|init %s", r.initFP)
	}
	if o.Shards > 1 {
		fmt.Fprintf(h, "|shards %d", o.Shards)
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

func shapeSize(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// trainedVars returns the trained variables in key order.
func (r *run) trainedVars() []*context.Variable {
	out := make([]*context.Variable, len(r.train))
	for i, k := range r.train {
		out[i] = r.vars[k]
	}
	return out
}

// compile builds the stage's loss-and-gradient graph.
func (r *run) compile() error {
	var fn func(ctx *context.Context, in []*Node) []*Node
	switch r.o.Stage {
	case StageVAE:
		kl := r.o.KLWeight
		fn = func(ctx *context.Context, in []*Node) []*Node {
			loss, rec, klv := VAELoss(ctx, in[0], in[1], kl)
			return []*Node{loss, rec, klv}
		}
	case StageUNet:
		sf := r.sf
		fn = func(ctx *context.Context, in []*Node) []*Node {
			var weights *Node
			if len(in) > 7 {
				weights = in[7]
			}
			return []*Node{UNetLoss(ctx, in[0], in[1], in[2], in[3], in[4], in[5], in[6], weights, sf)}
		}
	}
	var err error
	r.exec, err = gradExec(r.be, r.model.Ctx, r.trainedVars(), fn)
	return err
}

// extraOutputs is how many outputs precede the gradients.
func (r *run) extraOutputs() int {
	if r.o.Stage == StageVAE {
		return 3
	}
	return 1
}
