package bench

import (
	"context"
	"fmt"
	"hash/fnv"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"kata/model/adi"
	"kata/model/sd"
	"kata/model/world"
	"kata/model/world/judge"
)

// Runner is what a run works with: one frozen model, seen as a training
// base and as a pipeline (the same model on the same backend; adi.NewBase
// with BaseOptions.Pipeline set shares the pipeline's compiled graphs), the
// judges, and where finished work is kept.
type Runner struct {
	Base     adi.Base
	Pipeline *sd.Pipeline
	Judges   *judge.Judges
	// CacheDir, when set, keeps every trained identifier, training
	// checkpoints (every adi.Options.CheckpointEvery steps), ADI's contrast
	// images and every cell's images, each named by a hash of what shapes
	// it; a run started again after a kill with the same settings and model
	// reuses them and redoes only the rest. Empty: nothing is written.
	CacheDir string
}

// Timing records one method on one action: its training and its images.
type Timing struct {
	Action string
	Method Method
	// Steps and Loss (smoothed, at the end) of the identifier; 0 for MethodPrompt.
	Steps int
	Loss  float64
	// MaskKept is ADI's mean share of V kept by both gradient masks over
	// the run's steps, Drift how far V moved from its start (adi.Event's);
	// 0 when the identifier came from the cache.
	MaskKept, Drift float64
	Prepare         time.Duration // training's preparation: encoding exemplars, synthesising contrast images
	Train           time.Duration // training's optimiser steps
	Generate        time.Duration // wall time of generating the method's images
	Judge           time.Duration // wall time of judging them
	Images          int           // images generated: subjects x Options.Images
	StepsPerImage   int           // sampler steps of each
	// CachedIdentifier says the identifier came from Runner.CacheDir (no
	// training times then); CachedImages counts images read from it.
	CachedIdentifier bool
	CachedImages     int
}

// Result is a finished run.
type Result struct {
	Options  Options   // with defaults filled in
	Verdicts []Verdict // one per image, by action, then method (table order), subject, index
	// Images are the generated pictures, Images[i] judged by Verdicts[i].
	Images []*image.NRGBA
	Timing []Timing // by action, then method
	// Overlaps name the person subjects that share a body colour with an
	// exemplar of the action (they differ from the exemplars in clothes
	// and background only).
	Overlaps []string
	Wall     time.Duration
}

// Rows tallies the result into the table, one row per method of the run.
func (r *Result) Rows() []Row { return Summarise(r.Verdicts, r.Options.Methods) }

// Run trains, generates and judges as Options say, reporting to progress
// (may be nil) from the calling goroutine. It stops with ctx's error when
// ctx is cancelled. The judges must know every action, kind and colour of
// the run.
func Run(ctx context.Context, r Runner, opts Options, progress func(Progress)) (*Result, error) {
	o, err := opts.WithDefaults()
	if err != nil {
		return nil, err
	}
	if r.Pipeline == nil || r.Judges == nil || r.Base.Model == nil {
		return nil, fmt.Errorf("bench: runner needs a pipeline, a training base and judges")
	}
	if err := checkVocabulary(r.Judges.Vocab, o); err != nil {
		return nil, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	start := time.Now()
	res := &Result{Options: o}
	meter := newMeter(o, start, progress)
	c := cache{dir: r.CacheDir, model: r.Pipeline.Model.Hash}
	for _, action := range o.Actions {
		exemplars, overlaps, err := exemplarSet(o, action)
		if err != nil {
			return nil, err
		}
		res.Overlaps = append(res.Overlaps, overlaps...)
		for _, m := range o.Methods {
			t := Timing{Action: action, Method: m, Images: len(o.Subjects) * o.Images, StepsPerImage: o.SampleSteps}
			var ids *adi.Identifiers
			idKey := ""
			if m != MethodPrompt {
				id, key, err := train(ctx, r.Base, c, exemplars, o, action, m, meter, &t)
				if err != nil {
					return nil, fmt.Errorf("bench: %s, %s: %w", action, MethodLabel(m), err)
				}
				if ids, err = adi.NewIdentifiers(id); err != nil {
					return nil, err
				}
				idKey = key
			}
			vs, imgs, err := generate(ctx, r, c, o, action, m, ids, idKey, meter, &t)
			if err != nil {
				return nil, fmt.Errorf("bench: %s, %s: %w", action, MethodLabel(m), err)
			}
			res.Verdicts = append(res.Verdicts, vs...)
			res.Images = append(res.Images, imgs...)
			res.Timing = append(res.Timing, t)
		}
	}
	meter.finish()
	res.Wall = time.Since(start)
	return res, nil
}

// checkVocabulary reports an action, kind or colour of o the judges cannot read.
func checkVocabulary(v judge.Vocabulary, o Options) error {
	for _, a := range o.Actions {
		if !slices.Contains(v.Actions, a) {
			return fmt.Errorf("bench: the pose judge does not know the action %q", a)
		}
	}
	for _, s := range o.Subjects {
		if !slices.Contains(v.Kinds, s.Kind) || !slices.Contains(v.Colors, s.Color) {
			return fmt.Errorf("bench: the subject judge does not know the subject %q", s)
		}
	}
	return nil
}

// exemplarSet renders action's world exemplar set and names the person
// subjects that share a body colour with one of its pictures.
func exemplarSet(o Options, action string) ([]adi.Exemplar, []string, error) {
	set, err := world.ExemplarSet(action, o.Seed, o.Exemplars)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	out := make([]adi.Exemplar, len(set))
	colours := map[string]bool{}
	for i, e := range set {
		out[i] = adi.Exemplar{Name: action + "/" + e.Name, Image: world.Render(e.Scene, o.ExemplarSize), Template: e.Template}
		colours[e.Scene.Color] = true
	}
	var overlaps []string
	for _, s := range o.Subjects {
		if s.Kind == "person" && colours[s.Color] {
			overlaps = append(overlaps, fmt.Sprintf("%s: the %s shares its body colour with an exemplar", action, s))
		}
	}
	return out, overlaps, nil
}

// trainOptions are the training options of action's identifier with method m.
func trainOptions(o Options, action string, m Method) adi.Options {
	to := o.Train
	to.Method, to.Name, to.Steps, to.Seed = adi.Method(m), action, o.Steps, o.Seed
	to.CheckpointPath, to.Resume, to.PreviewEvery, to.Contrast.CacheDir = "", false, 0, ""
	return to
}

// train learns action's identifier with method m, or reads it from c, and
// records its steps, final smoothed loss and times in t. It returns the
// identifier and its cache key.
func train(ctx context.Context, base adi.Base, c cache, exemplars []adi.Exemplar, o Options, action string, m Method, meter *meter, t *Timing) (*adi.Identifier, string, error) {
	to := trainOptions(o, action, m)
	key, err := c.identifierKey(exemplars, to)
	if err != nil {
		return nil, "", err
	}
	perStep := stepUnits(o, m)
	negatives := contrastUnits(o, m)
	path := c.identifierPath(action, m, key)
	if c.on() {
		id, err := loadIdentifier(path)
		if err != nil {
			return nil, "", err
		}
		if id != nil {
			meter.skip(workContrast, negatives)
			meter.skip(stepWork(m), perStep*float64(o.Steps))
			t.Steps, t.CachedIdentifier = id.Steps, true
			return id, key, nil
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, "", fmt.Errorf("bench: cache: %w", err)
		}
		to.CheckpointPath, to.Resume = strings.TrimSuffix(path, ".safetensors")+".state", true
		to.Contrast.CacheDir = filepath.Join(c.dir, cacheContrast)
	}
	stage := fmt.Sprintf("%s: training %s", action, MethodLabel(m))
	base0 := meter.done
	start := time.Now()
	var stepsStart time.Time
	var keptSum float64
	var stepsSeen int
	id, err := adi.Train(ctx, base, exemplars, to, func(e adi.Event) {
		switch e.Kind {
		case adi.EventPrepare:
			if e.Total > 0 && e.Message == "synthesising contrast images" {
				meter.set(workContrast, stage, base0+negatives*float64(e.Done)/float64(e.Total))
			}
		case adi.EventStep:
			if stepsStart.IsZero() {
				// The first step's own time counts as preparation's; a
				// run of N steps times N-1 of them.
				stepsStart = time.Now()
			}
			t.Loss, t.Drift = e.Smoothed, e.Drift
			keptSum += e.MaskKept
			stepsSeen++
			t.MaskKept = keptSum / float64(stepsSeen)
			meter.set(stepWork(m), stage, base0+negatives+perStep*float64(e.Step))
		}
	})
	if err != nil {
		return nil, "", err
	}
	meter.set(stepWork(m), stage, base0+negatives+perStep*float64(o.Steps))
	t.Steps, t.Prepare, t.Train = id.Steps, stepsStart.Sub(start), time.Since(stepsStart)
	if c.on() {
		if err := adi.Save(path, id); err != nil {
			return nil, "", err
		}
		if err := os.Remove(to.CheckpointPath); err != nil && !os.IsNotExist(err) {
			return nil, "", fmt.Errorf("bench: cache: %w", err)
		}
	}
	return id, key, nil
}

// generate draws and judges every image of action with method m (ids nil
// for MethodPrompt, idKey its cache key), one batch of Options.Images per
// subject, reading cells kept in c, and records the times in t.
func generate(ctx context.Context, r Runner, c cache, o Options, action string, m Method, ids *adi.Identifiers, idKey string, meter *meter, t *Timing) ([]Verdict, []*image.NRGBA, error) {
	start := time.Now()
	stage := fmt.Sprintf("%s: generating with %s", action, MethodLabel(m))
	perStep := sampleUnits(o) / float64(o.SampleSteps) * float64(o.Images)
	var vs []Verdict
	var imgs []*image.NRGBA
	for _, s := range o.Subjects {
		prompt, err := o.prompt(m, s, action)
		if err != nil {
			return nil, nil, err
		}
		seeds := make([]uint64, o.Images)
		for k := range seeds {
			seeds[k] = ImageSeed(o.Seed, action, s, k)
			vs = append(vs, Verdict{Variant: o.Variant, Method: m, Action: action, Subject: s, Index: k, Seed: seeds[k], Prompt: prompt})
		}
		g := sd.GenerateOptions{Prompt: prompt, Steps: o.SampleSteps, Sampler: o.Sampler, CFG: o.CFG}
		key, err := c.key("cell", idKey, g.Prompt, g.Steps, g.Sampler, g.CFG, seeds)
		if err != nil {
			return nil, nil, err
		}
		paths := c.cellPaths(action, m, s, key, len(seeds))
		if c.on() {
			cell, err := loadCell(paths)
			if err != nil {
				return nil, nil, err
			}
			if cell != nil {
				meter.skip(workSample, perStep*float64(o.SampleSteps))
				imgs = append(imgs, cell...)
				t.CachedImages += len(cell)
				continue
			}
		}
		if ids != nil {
			if err := ids.ApplyToGenerate(&g); err != nil {
				return nil, nil, err
			}
		}
		base0 := meter.done
		g.OnStep = func(step, _ int, _ []float32) { meter.set(workSample, stage, base0+perStep*float64(step)) }
		out, err := r.Pipeline.GenerateBatch(ctx, g, seeds)
		if err != nil {
			return nil, nil, err
		}
		meter.set(workSample, stage, base0+perStep*float64(o.SampleSteps))
		cell := make([]*image.NRGBA, len(out))
		for k, res := range out {
			cell[k] = res.Image
		}
		if c.on() {
			if err := saveCell(paths, cell); err != nil {
				return nil, nil, err
			}
		}
		imgs = append(imgs, cell...)
	}
	t.Generate = time.Since(start)
	start = time.Now()
	batch := make([]image.Image, len(imgs))
	for i, img := range imgs {
		batch[i] = img
	}
	read, err := r.Judges.Classify(batch)
	if err != nil {
		return nil, nil, err
	}
	t.Judge = time.Since(start)
	for i, j := range read {
		v := &vs[i]
		v.SeenAction, v.SeenKind, v.SeenColor = j.Action, j.Kind, j.Color
		v.ActionP, v.KindP, v.ColorP = j.ActionP, j.KindP, j.ColorP
	}
	return vs, imgs, nil
}

// ImageSeed is the sampler seed of image k of subject s doing action: a
// hash of the run's seed, the action, the subject and k, so every method
// draws from the same starting noise.
func ImageSeed(seed uint64, action string, s Subject, k int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s|%d", action, s.Kind, s.Color, k)
	return rand.New(rand.NewPCG(seed, h.Sum64())).Uint64() >> 32 // A1111 seeds fit 32 bits
}
