package adi

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"kata/model/backend"
	"kata/model/gcsetting"
	"kata/model/scheduler"
	"kata/model/tokenizer"
)

// DefaultSteps is a run's optimiser step count unless Options.Steps says otherwise.
const DefaultSteps = 500

// Options configures a training run. Zero values take the defaults noted.
type Options struct {
	Method   Method // default MethodADI
	Name     string // action name or trigger, e.g. "handstand" -> "<handstand>" (required)
	InitWord string // word whose embedding initialises every vector; default "person"
	// Init, when set, starts from an existing identifier's vectors instead of
	// InitWord (a TI vector is copied to every layer of a layer-wise run).
	Init *Identifier

	Steps     int    // optimiser steps; default DefaultSteps
	BatchSize int    // anchors per micro-batch; default 1
	GradAccum int    // micro-batches per step; default 1
	Seed      uint64 // seeds sampling, flips, timesteps and noise

	// AdamW: LR defaults to 5e-3 for layer-wise methods, 5e-4 x batch for TI.
	AdamW AdamWConfig
	// Mask is ADI's gradient mask (ignored by TI and P+); default beta 0.5 per layer.
	Mask MaskConfig

	Resolution int     // training image size in pixels; default the model's native one
	Fit        FitMode // how exemplars reach the resolution; default FitCrop
	NoFlip     bool    // disable random horizontal flips
	Caption    string  // default caption template for images without one; default placeholder.DefaultCaption

	// Contrast configures ADI's action-different samples.
	Contrast ContrastOptions
	// Memory holds the trainer's memory levers; the zero value is the default
	// (one sample per execution, see SplitMode).
	Memory MemoryOptions

	// CheckpointPath, when set, receives a checkpoint every CheckpointEvery
	// steps (default 100), on cancel and at the end; Resume continues from it
	// when it exists.
	CheckpointPath  string
	CheckpointEvery int
	Resume          bool

	// PreviewEvery > 0 renders a preview image (Base.Preview) every that many steps.
	PreviewEvery int
	// Smoothing is the weight of a new loss in the smoothed loss; default 0.05.
	Smoothing float64
}

// EventKind tells what a progress Event reports.
type EventKind int

// Event kinds, in the order a run emits them.
const (
	EventPrepare    EventKind = iota // loading, encoding, synthesising negatives (Message, Done/Total)
	EventStep                        // one optimiser step finished
	EventPreview                     // Preview holds a rendered image
	EventCheckpoint                  // Path holds the checkpoint written
	EventDone                        // training finished (also on cancel, with Err set)
)

// Event is a typed progress report of a training run.
type Event struct {
	Kind        EventKind
	Step, Steps int           // steps done, steps in total
	Loss        float64       // this step's mean anchor loss
	Smoothed    float64       // exponentially smoothed loss
	StepsPerSec float64       // speed of this session (resumed runs count from the resume)
	ETA         time.Duration // estimated time left
	Elapsed     time.Duration // time spent in this session
	Preview     image.Image   // EventPreview only
	Path        string        // EventCheckpoint only
	Message     string        // EventPrepare: what is being done
	Done, Total int           // EventPrepare: sub-progress
	Err         error         // EventDone: nil, or why the run stopped
	// MaskKept (EventStep, ADI only) is the share of V's entries that both
	// gradient masks kept, averaged over the step's anchors: about 0.25 if
	// the masks were independent at beta 0.5.
	MaskKept float64
	// Drift (EventStep) is how far the identifier has moved from its
	// initial vectors: ||V - V_init|| / ||V_init||.
	Drift float64
}

func (o Options) withDefaults() (_ Options, err error) {
	if o.Method == "" {
		o.Method = MethodADI
	}
	if _, err := ParseMethod(string(o.Method)); err != nil {
		return o, err
	}
	if o.Name == "" {
		return o, fmt.Errorf("training needs a name for the identifier (e.g. handstand)")
	}
	if o.InitWord == "" {
		o.InitWord = "person"
	}
	if o.Steps <= 0 {
		o.Steps = DefaultSteps
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1
	}
	if o.GradAccum <= 0 {
		o.GradAccum = 1
	}
	if o.AdamW.LR == 0 {
		if o.Method.LayerWise() {
			o.AdamW.LR = 5e-3
		} else {
			o.AdamW.LR = 5e-4 * float64(o.BatchSize*o.GradAccum)
		}
	}
	o.AdamW = o.AdamW.withDefaults()
	if o.Mask == (MaskConfig{}) {
		o.Mask = DefaultMaskConfig()
	}
	if o.Mask.Scope == "" {
		o.Mask.Scope = ScopePerLayer
	}
	if err := o.Mask.Validate(); err != nil {
		return o, err
	}
	if o.Fit == "" {
		o.Fit = FitCrop
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 100
	}
	if o.Smoothing <= 0 || o.Smoothing > 1 {
		o.Smoothing = 0.05
	}
	if o.Memory.Split, err = ParseSplitMode(string(o.Memory.Split)); err != nil {
		return o, err
	}
	if o.Contrast.Seed == 0 {
		o.Contrast.Seed = o.Seed
	}
	return o, nil
}

// trainer holds a prepared run.
type trainer struct {
	base     Base
	tok      *tokenizer.Tokenizer // the model's, with the placeholder added
	opts     Options
	trigger  string
	layers   int // UNet cross-attention layers
	lv       int // vectors learned: 1 (TI) or layers
	width    int
	latDim   [3]int
	schedule *scheduler.Schedule
	lossFn   *LossFunc
	compute  func(LossBatch) (LossResult, error) // lossFn.Compute; tests replace it
	ids      [][]int32                           // per exemplar: padded ids
	slots    [][]float32                         // per exemplar: 1 at the placeholder
	anchors  [][2]latent                         // per exemplar: latents unflipped / flipped
	negs     [][][2]latent
	fp       string
	onEvent  func(Event)
}

// Train learns an identifier from exemplars, photos in memory with caption
// templates (at least 2 for ADI), on the frozen base model. Each photo, of
// any size, is brought to Options.Resolution x Options.Resolution (default
// the model's native size: 512 for SD 1.x) with Options.Fit (default
// FitCrop); each template is normalised (NormalizeTemplate), an empty one
// taking Options.Caption (default placeholder.DefaultCaption). The result
// has Vectors [L][D]: L = 1 for TI, the UNet's cross-attention layer count
// (16 for SD 1.x) for P+ and ADI; D = the text encoder's width (768). It
// reports progress to onEvent (may be nil) from the calling goroutine,
// stops when ctx is cancelled (writing a checkpoint first when
// CheckpointPath is set) and returns the identifier with its metadata
// filled in. It is safe to call from a goroutine; one Base must not be
// shared by concurrent runs. On the pure-Go backend it lowers the Go
// garbage collector's target while it runs (MemoryOptions.GCPercent).
func Train(ctx context.Context, base Base, exemplars []Exemplar, opts Options, onEvent func(Event)) (id *Identifier, err error) {
	if onEvent == nil {
		onEvent = func(Event) {}
	}
	if backend.PureGo(base.Backend) {
		defer gcsetting.LowerPercent(opts.Memory.gcPercent())()
	}
	t, err := prepare(ctx, base, exemplars, opts, onEvent)
	if err != nil {
		onEvent(Event{Kind: EventDone, Err: err})
		return nil, err
	}
	return t.run(ctx)
}

// initVector returns the mean token embedding of word's tokens.
func (t *trainer) initVector() ([]float32, error) {
	ids := t.tok.Encode(t.opts.InitWord)
	if len(ids) == 0 {
		return nil, fmt.Errorf("init word %q has no tokens", t.opts.InitWord)
	}
	return TokenEmbeddingRows(t.base.Model, ids)
}

// initialVectors is V before the first step: Options.Init's layers, or
// the init word's embedding in every layer.
func (t *trainer) initialVectors() ([]float32, error) {
	vectors := make([]float32, 0, t.lv*t.width)
	for l := range t.lv {
		var init []float32
		if t.opts.Init != nil {
			init = t.opts.Init.Layer(l)
		} else if l == 0 {
			var err error
			if init, err = t.initVector(); err != nil {
				return nil, err
			}
		} else {
			init = vectors[:t.width]
		}
		vectors = append(vectors, init...)
	}
	return vectors, nil
}

// drift is ||v - from|| / ||from|| (0 when from is all zeros).
func drift(v, from []float32) float64 {
	var d, n float64
	for i := range v {
		x := float64(v[i]) - float64(from[i])
		d += x * x
		n += float64(from[i]) * float64(from[i])
	}
	if n == 0 {
		return 0
	}
	return math.Sqrt(d / n)
}

// run is the training loop. It ends with an EventDone (Err set on failure).
func (t *trainer) run(ctx context.Context) (_ *Identifier, err error) {
	o := t.opts
	n := t.lv * t.width
	vectors := make([]float32, 0, n)
	opt := NewAdamW(o.AdamW, n)
	pcg := rand.NewPCG(o.Seed, 0x6b617461)
	step, smoothed := 0, math.NaN()
	start, startStep := time.Now(), 0
	defer func() {
		if err != nil {
			t.onEvent(Event{Kind: EventDone, Step: step, Steps: o.Steps, Smoothed: smoothed, Elapsed: time.Since(start), Err: err})
		}
	}()
	resumed := false
	if o.Resume && o.CheckpointPath != "" {
		c, err := LoadCheckpoint(o.CheckpointPath, o.AdamW)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, err
		case c.Fingerprint != t.fp || c.Lv != t.lv || c.D != t.width:
			return nil, fmt.Errorf("checkpoint %s belongs to another run (different model, images or settings)", o.CheckpointPath)
		default:
			vectors, opt, step, smoothed = c.Vectors, c.Adam, c.Step, c.Smoothed
			if err := pcg.UnmarshalBinary(c.RNG); err != nil {
				return nil, err
			}
			resumed = true
		}
	}
	initial, err := t.initialVectors()
	if err != nil {
		return nil, err
	}
	if !resumed {
		vectors = append(vectors, initial...)
	}
	rng := rand.New(pcg)
	savedStep := -1 // the step of the checkpoint on disk; -1: none written by this run
	if resumed {
		savedStep = step
	}
	saveCkpt := func() error {
		if o.CheckpointPath == "" {
			return nil
		}
		state, err := pcg.MarshalBinary()
		if err != nil {
			return err
		}
		c := &Checkpoint{Step: step, Vectors: vectors, Lv: t.lv, D: t.width, Adam: opt, RNG: state, Smoothed: smoothed, Fingerprint: t.fp}
		if err := SaveCheckpoint(o.CheckpointPath, c); err != nil {
			return err
		}
		savedStep = step
		t.onEvent(Event{Kind: EventCheckpoint, Step: step, Steps: o.Steps, Path: o.CheckpointPath})
		return nil
	}

	start, startStep = time.Now(), step
	for step < o.Steps {
		if err := ctx.Err(); err != nil {
			if cerr := saveCkpt(); cerr != nil {
				return nil, fmt.Errorf("%w (and the checkpoint failed: %v)", err, cerr)
			}
			return nil, err
		}
		rngAtStep, err := pcg.MarshalBinary()
		if err != nil {
			return nil, err
		}
		grad, loss, kept, err := t.gradient(rng, vectors)
		if err != nil && ctx.Err() != nil {
			// Cancelled inside the step (backend.Watch): the vectors are those
			// of the last finished step, and the random state goes back to
			// where this step began, so a resume repeats it.
			if uerr := pcg.UnmarshalBinary(rngAtStep); uerr != nil {
				return nil, fmt.Errorf("%w (and restoring the random state failed: %v)", ctx.Err(), uerr)
			}
			if cerr := saveCkpt(); cerr != nil {
				return nil, fmt.Errorf("%w (and the checkpoint failed: %v)", ctx.Err(), cerr)
			}
			return nil, ctx.Err()
		}
		if err != nil {
			// The vectors and the optimiser are those after the last good
			// step; with the sampler put back to where this step began, a
			// checkpoint resumes exactly here.
			if uerr := pcg.UnmarshalBinary(rngAtStep); uerr != nil {
				return nil, fmt.Errorf("step %d: %w (and the sampler state was lost: %v)", step+1, err, uerr)
			}
			return nil, t.stepFailed(step, err, savedStep, saveCkpt)
		}
		if err := nonFiniteStep(loss, grad, "gradient", step+1, savedStep, o.CheckpointPath); err != nil {
			return nil, err
		}
		if err := opt.Update(vectors, grad); err != nil {
			return nil, err
		}
		if err := nonFiniteStep(loss, vectors, "vectors after the update", step+1, savedStep, o.CheckpointPath); err != nil {
			return nil, err
		}
		step++
		if math.IsNaN(smoothed) {
			smoothed = loss
		} else {
			smoothed += o.Smoothing * (loss - smoothed)
		}
		el := time.Since(start)
		ev := Event{Kind: EventStep, Step: step, Steps: o.Steps, Loss: loss, Smoothed: smoothed, Elapsed: el,
			MaskKept: kept, Drift: drift(vectors, initial)}
		if done := step - startStep; done > 0 && el > 0 {
			ev.StepsPerSec = float64(done) / el.Seconds()
			ev.ETA = time.Duration(float64(o.Steps-step) / ev.StepsPerSec * float64(time.Second))
		}
		t.onEvent(ev)
		if step%o.CheckpointEvery == 0 && step < o.Steps {
			if err := saveCkpt(); err != nil {
				return nil, err
			}
		}
		if o.PreviewEvery > 0 && t.base.Preview != nil && step%o.PreviewEvery == 0 {
			img, err := t.base.Preview(ctx, t.identifier(vectors, step))
			if err != nil && ctx.Err() == nil {
				return nil, fmt.Errorf("preview at step %d: %w", step, err)
			}
			if err == nil {
				t.onEvent(Event{Kind: EventPreview, Step: step, Steps: o.Steps, Preview: img})
			}
		}
	}
	if err := saveCkpt(); err != nil {
		return nil, err
	}
	id := t.identifier(vectors, step)
	t.onEvent(Event{Kind: EventDone, Step: step, Steps: o.Steps, Smoothed: smoothed, Elapsed: time.Since(start)})
	return id, nil
}

// identifier wraps the current vectors with their metadata.
func (t *trainer) identifier(vectors []float32, step int) *Identifier {
	o := t.opts
	id := &Identifier{Metadata: Metadata{
		Trigger: t.trigger, Method: o.Method, BaseModelHash: t.base.Model.SHA256, TextWidth: t.width,
		Steps: step, LR: o.AdamW.LR, InitWord: o.InitWord, Created: time.Now().UTC().Truncate(time.Second), Version: FormatVersion,
	}}
	if o.Method == MethodADI {
		id.Beta = o.Mask.Beta
	}
	_ = id.SetFlat(vectors, t.width)
	return id
}

// stepFailed is the error of step step+1, whose gradient failed with err:
// it writes a checkpoint of the state after step (when CheckpointPath is set
// and the file on disk, of savedStep, is older), so no finished step is lost,
// and says where training can resume. An out-of-memory error is marked with
// backend.ErrOutOfMemory and says what to do.
func (t *trainer) stepFailed(step int, err error, savedStep int, saveCkpt func() error) error {
	o := t.opts
	err = backend.OutOfMemory(err)
	kept := "no checkpoint is kept (no checkpoint path set)"
	if o.CheckpointPath != "" {
		if step > 0 && step > savedStep {
			if cerr := saveCkpt(); cerr != nil {
				return fmt.Errorf("step %d: %w (and the checkpoint failed: %v)", step+1, err, cerr)
			}
			savedStep = step
		}
		if savedStep >= 0 {
			kept = fmt.Sprintf("the checkpoint of step %d is kept in %s; resume continues from it", savedStep, o.CheckpointPath)
		} else {
			kept = "no step had finished, so there is no checkpoint"
		}
	}
	if errors.Is(err, backend.ErrOutOfMemory) {
		advice := backend.OutOfMemoryAdvice
		if o.Memory.Split == SplitBatch {
			advice = "train with one sample per execution (split mode samples), or " + advice
		}
		return fmt.Errorf("step %d ran out of memory: %w; %s; to go on: %s", step+1, err, kept, advice)
	}
	return fmt.Errorf("step %d: %w; %s", step+1, err, kept)
}
