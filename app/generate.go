package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"kata/model/adi"
	"kata/model/placeholder"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/store"
	"kata/store/contenthash"
	"kata/store/imagemeta"
)

// DefaultSampler is the sampler of Kata's generations (the window's and
// kata generate's) when none is chosen; the pipeline's own default is DDIM.
const DefaultSampler = "euler_a"

// GenerateRequest is what the gallery asks for.
type GenerateRequest struct {
	ModelID          int64
	Prompt, Negative string // learned triggers such as <handstand> may appear in either
	Seed             uint64
	Steps            int     // default sd.DefaultSteps
	Sampler          string  // default DefaultSampler
	CFG              float64 // default sd.DefaultCFG
	Width, Height    int     // default the model's native size; multiples of 8
	// SubjectID and ActionID file the image under a subject x action cell
	// of the contact sheet; 0 for none.
	SubjectID, ActionID int64
}

// Generate makes one image on a library model, using the newest identifier of
// every action whose trigger the prompt names, and stores it in the gallery
// with its settings. progress is called after each sampling step.
func (k *Kata) Generate(ctx context.Context, r GenerateRequest, progress func(step, total int)) (GenerationInfo, error) {
	ctx, cancel := k.untilClose(ctx)
	defer cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.generateLocked(ctx, r, progress)
}

// generateLocked is Generate for a caller that holds k.mu.
func (k *Kata) generateLocked(ctx context.Context, r GenerateRequest, progress func(step, total int)) (GenerationInfo, error) {
	if strings.TrimSpace(r.Prompt) == "" {
		return GenerationInfo{}, errors.New("write a prompt first, e.g. \"a panda <handstand>\"")
	}
	eng, err := k.engineFor(r.ModelID)
	if err != nil {
		return GenerationInfo{}, err
	}
	paths, versions, err := k.identifierFiles(ctx, r.Prompt+" "+r.Negative, eng.model.Hash)
	if err != nil {
		return GenerationInfo{}, err
	}
	set, _, err := adi.LoadIdentifiers(paths, eng.model)
	if err != nil {
		return GenerationInfo{}, err
	}
	gen := generation{opts: sd.GenerateOptions{Prompt: r.Prompt, Negative: r.Negative, Seed: r.Seed, Steps: r.Steps,
		Sampler: firstNonEmpty(r.Sampler, DefaultSampler), CFG: r.CFG, Width: r.Width, Height: r.Height}, set: set, modelName: modelName(eng.model.Path)}
	res, s, err := gen.run(ctx, eng.pipeline, progress)
	if err != nil {
		return GenerationInfo{}, err
	}
	g, err := k.lib.AddGeneration(ctx, store.Generation{Prompt: s.Prompt, Negative: s.Negative, Seed: s.Seed,
		Sampler: s.Sampler, Steps: s.Steps, CFG: s.CFG, Width: s.Width, Height: s.Height, Strength: s.Strength,
		ModelHash: s.ModelHash, IdentifierVersions: versions, SubjectID: r.SubjectID, ActionID: r.ActionID}, res.Image)
	if err != nil {
		return GenerationInfo{}, err
	}
	return generationInfo(k.lib, g), nil
}

// identifierFiles finds, for every trigger named in text, the newest
// identifier version of that action, preferring ones trained on modelHash.
func (k *Kata) identifierFiles(ctx context.Context, text, modelHash string) (paths []string, versions []int64, err error) {
	for _, trigger := range placeholder.Find(text) {
		a, err := k.actionByTrigger(ctx, trigger)
		if err != nil {
			return nil, nil, err
		}
		ids, err := k.lib.Identifiers(ctx, a.ID)
		if err != nil {
			return nil, nil, err
		}
		var best store.IdentifierVersion
		bestMatches := false
		for _, id := range ids {
			v, err := k.lib.LatestVersion(ctx, id.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			matches := id.BaseModelHash == modelHash
			if best.ID == 0 || (matches && !bestMatches) || (matches == bestMatches && v.Created.After(best.Created)) {
				best, bestMatches = v, matches
			}
		}
		if best.ID == 0 {
			return nil, nil, fmt.Errorf("action %s (%s) is not trained yet: train it on the Actions page", a.Name, a.Trigger)
		}
		paths = append(paths, k.lib.BlobPath(best.File))
		versions = append(versions, best.ID)
	}
	return paths, versions, nil
}

// actionByTrigger finds the action whose trigger is trigger, ignoring case
// as the tokenizer does.
func (k *Kata) actionByTrigger(ctx context.Context, trigger string) (store.Action, error) {
	actions, err := k.lib.Actions(ctx)
	if err != nil {
		return store.Action{}, err
	}
	for _, a := range actions {
		if strings.EqualFold(a.Trigger, trigger) {
			return a, nil
		}
	}
	return store.Action{}, fmt.Errorf("unknown action %s in the prompt", trigger)
}

// generation is how one image is made, by the window and by kata generate
// alike: the pipeline's options, the identifiers the prompts may name, and
// how the image's settings name the model and the identifiers.
type generation struct {
	opts      sd.GenerateOptions
	set       *adi.Identifiers // nil: none loaded (an unknown <trigger> is still an error)
	modelName string           // modelName of the model's path, as the library names it too
	labels    []string         // per identifier of set: "name:hash" (identifierLabel), as the library writes them
}

// identifierLabel names an identifier file in image settings the way the
// library does: "name:" and the first 12 hex digits of the file's SHA-256,
// which is how a library finds the identifier again.
func identifierLabel(trigger, path string) (string, error) {
	h, err := contenthash.File(path)
	if err != nil {
		return "", fmt.Errorf("identifier %s: %w", path, err)
	}
	return strings.Trim(trigger, "<>") + ":" + h[:12], nil
}

// run puts the identifiers into the options, samples the image on p
// (progress, when set, after each step) and returns it with its settings:
// the AUTOMATIC1111 sampler name, strength only for image-to-image, "Clip
// skip" only above 1, the identifiers' labels.
func (g generation) run(ctx context.Context, p *sd.Pipeline, progress func(step, total int)) (*sd.Result, imagemeta.Settings, error) {
	opts := g.opts
	if err := g.set.ApplyToGenerate(&opts); err != nil {
		return nil, imagemeta.Settings{}, err
	}
	if progress != nil {
		opts.OnStep = func(step, total int, _ []float32) { progress(step, total) }
	}
	res, err := p.Generate(ctx, opts)
	if err != nil {
		return nil, imagemeta.Settings{}, err
	}
	o := res.Options
	s := imagemeta.Settings{
		Prompt: o.Prompt, Negative: o.Negative, Steps: o.Steps, Sampler: scheduler.DisplayName(res.Sampler),
		CFG: o.CFG, Seed: int64(o.Seed), Width: o.Width, Height: o.Height, Model: g.modelName, ModelHash: p.Model.Hash,
	}
	s.Identifiers = g.labels
	if o.InitImage != nil {
		s.Strength = o.Strength
	}
	if o.ClipSkip > 1 {
		s.Extra = map[string]string{"Clip skip": fmt.Sprint(o.ClipSkip)}
	}
	return res, s, nil
}
