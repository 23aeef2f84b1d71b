package adi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"

	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/tokenizer"
)

// Options configures a training run. Zero values take the defaults noted.
type Options struct {
	Method   Method // default MethodADI
	Name     string // action name or trigger, e.g. "handstand" -> "<handstand>" (required)
	InitWord string // word whose embedding initialises every vector; default "person"
	// Init, when set, starts from an existing identifier's vectors instead of
	// InitWord (a TI vector is copied to every layer of a layer-wise run).
	Init *Identifier

	Steps     int    // optimiser steps; default 500
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
	Caption    string  // default caption template for images without one; default DefaultCaption

	// Contrast configures ADI's action-different samples.
	Contrast ContrastOptions

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

// Base is the frozen model a run trains on, with optional renderers.
type Base struct {
	Model     *sd.Model
	Backend   backends.Backend
	Tokenizer *tokenizer.Tokenizer // the model's tokenizer (placeholders get added to it)
	// Img2Img synthesises ADI's negatives (nil: only user contrast images are used).
	Img2Img Img2Img
	// Preview renders the identifier in a prompt for progress events (optional).
	Preview func(ctx context.Context, id *Identifier) (image.Image, error)
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
}

func (o Options) withDefaults() (Options, error) {
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
		o.Steps = 500
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
	if o.Contrast.Seed == 0 {
		o.Contrast.Seed = o.Seed
	}
	return o, nil
}

// trainer holds a prepared run.
type trainer struct {
	base     Base
	opts     Options
	trigger  string
	layers   int // UNet cross-attention layers
	lv       int // vectors learned: 1 (TI) or layers
	width    int
	latDim   [3]int
	schedule *scheduler.Schedule
	lossFn   *LossFunc
	ids      [][]int32   // per exemplar: padded ids
	slots    [][]float32 // per exemplar: 1 at the placeholder
	anchors  [][2]latent // per exemplar: latents unflipped / flipped
	negs     [][][2]latent
	fp       string
	onEvent  func(Event)
}

// Train learns an identifier from the exemplars (photos in memory, any size,
// with caption templates; at least 2 for ADI) on the frozen base model. Each
// photo is brought to Options.Resolution (default the model's native size)
// with Options.Fit; an empty template takes Options.Caption (default
// DefaultCaption). It reports progress to onEvent (may be nil) from
// the calling goroutine, stops when ctx is cancelled (writing a checkpoint
// first when CheckpointPath is set) and returns the identifier with its
// metadata filled in. It is safe to call from a goroutine; one Base must not
// be shared by concurrent runs.
func Train(ctx context.Context, base Base, exemplars []Exemplar, opts Options, onEvent func(Event)) (id *Identifier, err error) {
	if onEvent == nil {
		onEvent = func(Event) {}
	}
	t, err := prepare(ctx, base, exemplars, opts, onEvent)
	if err != nil {
		onEvent(Event{Kind: EventDone, Err: err})
		return nil, err
	}
	return t.run(ctx)
}

func prepare(ctx context.Context, base Base, given []Exemplar, opts Options, onEvent func(Event)) (*trainer, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if base.Model == nil || base.Backend == nil || base.Tokenizer == nil {
		return nil, fmt.Errorf("training needs a loaded model, a backend and a tokenizer")
	}
	m := base.Model
	t := &trainer{base: base, opts: o, onEvent: onEvent}
	if t.trigger, err = TriggerFor(o.Name); err != nil {
		return nil, err
	}
	t.layers = m.UNet.NumCrossAttentionLayers()
	t.width = m.Text.HiddenSize
	t.lv = 1
	if o.Method.LayerWise() {
		t.lv = t.layers
	}
	if o.Init != nil {
		if _, err := CheckCompat(o.Init, t.width, t.layers, ""); err != nil {
			return nil, err
		}
		if len(o.Init.Vectors) > t.lv {
			return nil, fmt.Errorf("identifier %s has %d layer vectors; a %s run learns one", o.Init.Trigger, len(o.Init.Vectors), o.Method)
		}
	}
	factor := 1 << (len(m.VAE.BlockOutChannels) - 1)
	if o.Resolution <= 0 {
		o.Resolution = m.UNet.SampleSize * factor
		t.opts.Resolution = o.Resolution
	}
	if o.Resolution%(factor*(1<<(len(m.UNet.BlockOutChannels)-1))) != 0 {
		return nil, fmt.Errorf("resolution %d is not a multiple of %d", o.Resolution, factor*(1<<(len(m.UNet.BlockOutChannels)-1)))
	}
	h := o.Resolution / factor
	t.latDim = [3]int{m.VAE.LatentChannels, h, h}

	cfg := scheduler.DefaultConfig()
	if m.SchedulerConfig != nil {
		if cfg, err = scheduler.ParseConfig(m.SchedulerConfig); err != nil {
			return nil, err
		}
	}
	if t.schedule, err = scheduler.NewSchedule(cfg); err != nil {
		return nil, err
	}

	onEvent(Event{Kind: EventPrepare, Message: "reading exemplars"})
	exemplars, err := fitExemplars(given, t.trigger, o.Resolution, o.Fit, o.Caption)
	if err != nil {
		return nil, err
	}
	if o.Method == MethodADI && len(exemplars) < 2 {
		return nil, fmt.Errorf("adi needs at least 2 exemplars (the positive of a triple is another exemplar); got %d", len(exemplars))
	}
	if _, err := base.Tokenizer.AddToken(t.trigger); err != nil {
		return nil, fmt.Errorf("placeholder %s: %w", t.trigger, err)
	}
	set := &Identifiers{list: []*Identifier{{Metadata: Metadata{Trigger: t.trigger}, Vectors: [][]float32{{0}}}}}
	for _, e := range exemplars {
		ep, err := set.Encode(base.Tokenizer, Fill(e.template, t.trigger), tokenizer.SDLength)
		if err != nil {
			return nil, fmt.Errorf("caption of %s: %w", e.name, err)
		}
		ids := make([]int32, len(ep.IDs))
		slot := make([]float32, len(ep.IDs))
		for i, v := range ep.IDs {
			ids[i] = int32(v)
		}
		for _, p := range ep.Positions {
			slot[p] = 1
		}
		t.ids, t.slots = append(t.ids, ids), append(t.slots, slot)
	}

	enc, err := newLatentEncoder(base.Backend, m)
	if err != nil {
		return nil, err
	}
	for i, e := range exemplars {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		onEvent(Event{Kind: EventPrepare, Message: "encoding exemplars", Done: i, Total: len(exemplars)})
		pair, err := enc.encodePair(e.image)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", e.name, err)
		}
		t.anchors = append(t.anchors, pair)
	}
	if o.Method == MethodADI {
		action := strings.Trim(t.trigger, "<>")
		negImgs, err := prepareContrast(ctx, exemplars, action, o.Contrast, m.SHA256, o.Fit, base.Img2Img, func(done, total int) {
			onEvent(Event{Kind: EventPrepare, Message: "synthesising contrast images", Done: done, Total: total})
		})
		if err != nil {
			return nil, err
		}
		for _, imgs := range negImgs {
			var pairs [][2]latent
			for _, img := range imgs {
				pair, err := enc.encodePair(img)
				if err != nil {
					return nil, fmt.Errorf("encode contrast image: %w", err)
				}
				pairs = append(pairs, pair)
			}
			t.negs = append(t.negs, pairs)
		}
	}
	if t.lossFn, err = NewLossFunc(base.Backend, m.Ctx); err != nil {
		return nil, err
	}
	// What must match for a checkpoint to continue this run exactly.
	h256 := sha256.New()
	fmt.Fprintf(h256, "%s|%s|%s|%d|%d|%d|%d|%g|%g|%s|%d|%s|%v|%s|%s", m.SHA256, o.Method, t.trigger, t.lv, t.width,
		o.BatchSize, o.GradAccum, o.Mask.Beta, o.AdamW.LR, o.Mask.Scope, o.Seed, o.Fit, o.NoFlip, o.InitWord, o.Caption)
	if o.Init != nil {
		fmt.Fprintf(h256, "|%v", o.Init.Vectors)
	}
	for _, e := range exemplars {
		fmt.Fprintf(h256, "|%s|%s", e.hash, e.template)
	}
	t.fp = hex.EncodeToString(h256.Sum(nil)[:12])
	return t, nil
}

// initVector returns the mean token embedding of word's tokens.
func (t *trainer) initVector() ([]float32, error) {
	ids := t.base.Tokenizer.Encode(t.opts.InitWord)
	if len(ids) == 0 {
		return nil, fmt.Errorf("init word %q has no tokens", t.opts.InitWord)
	}
	return TokenEmbeddingRows(t.base.Model, ids)
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
	if !resumed {
		for l := range t.lv {
			var init []float32
			if o.Init != nil {
				init = o.Init.Layer(l)
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
	}
	rng := rand.New(pcg)
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
		grad, loss, err := t.gradient(rng, vectors)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", step+1, err)
		}
		if err := opt.Update(vectors, grad); err != nil {
			return nil, err
		}
		step++
		if math.IsNaN(smoothed) {
			smoothed = loss
		} else {
			smoothed += o.Smoothing * (loss - smoothed)
		}
		el := time.Since(start)
		ev := Event{Kind: EventStep, Step: step, Steps: o.Steps, Loss: loss, Smoothed: smoothed, Elapsed: el}
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
