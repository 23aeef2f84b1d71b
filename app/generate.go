package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/placeholder"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/store"
	"kata/store/contenthash"
	"kata/store/imagemeta"
)

// GenerateRequest is what the gallery asks for.
type GenerateRequest struct {
	ModelID          int64
	Prompt, Negative string // learned triggers such as <handstand> may appear in either
	Seed             uint64
	Steps            int    // default sd.DefaultSteps
	Sampler          string // default scheduler.Default; canonical or AUTOMATIC1111 name
	// ScheduleType is AUTOMATIC1111's "Schedule type" (scheduler.ScheduleTypes;
	// "" for Automatic); only samplers whose SamplerInfo.Schedules is set take others.
	ScheduleType  string
	CFG           float64 // default sd.DefaultCFG
	Width, Height int     // default the model's native size; multiples of 8
	// SubjectID and ActionID file the image under a subject x action cell
	// of the contact sheet; 0 for none.
	SubjectID, ActionID int64
}

// Generate makes one image on a library model, using the newest identifier of
// every action whose trigger the prompt names, and stores it in the gallery
// with its settings. progress is called after each sampling step.
func (k *Kata) Generate(ctx context.Context, r GenerateRequest, progress func(step, total int)) (GenerationInfo, error) {
	infos, err := k.GenerateSeeds(ctx, r, []uint64{r.Seed}, progress)
	if err != nil {
		return GenerationInfo{}, err
	}
	return infos[0], nil
}

// GenerateSeeds is Generate for one image per seed (r.Seed is ignored),
// drawn in batches of up to seedBatch(model) images whose UNet runs once
// per step on all of them; progress reports each batch's steps. An image
// of a batch is its seed's image drawn alone up to the kernels' rounding
// (a latent ulp or so, sd.TestGenerateBatch). The images are stored as
// each batch finishes; on an error the ones stored before it stay.
func (k *Kata) GenerateSeeds(ctx context.Context, r GenerateRequest, seeds []uint64, progress func(step, total int)) ([]GenerationInfo, error) {
	ctx, cancel := k.untilClose(ctx)
	defer cancel()
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.generateLocked(ctx, r, seeds, progress)
}

// generateLocked is GenerateSeeds for a caller that holds k.mu.
func (k *Kata) generateLocked(ctx context.Context, r GenerateRequest, seeds []uint64, progress func(step, total int)) ([]GenerationInfo, error) {
	switch {
	case strings.TrimSpace(r.Prompt) == "":
		return nil, errors.New("write a prompt first, e.g. \"a panda <handstand>\"")
	case len(seeds) == 0:
		return nil, errors.New("generate: no seeds")
	}
	eng, err := k.engineFor(r.ModelID)
	if err != nil {
		return nil, err
	}
	paths, versions, labels, err := k.identifierFiles(ctx, r.Prompt+" "+r.Negative, eng.model.Hash)
	if err != nil {
		return nil, err
	}
	set, _, err := adi.LoadIdentifiers(paths, eng.model)
	if err != nil {
		return nil, err
	}
	var warnings []string
	gen := generation{opts: sd.GenerateOptions{Prompt: r.Prompt, Negative: r.Negative, Steps: r.Steps,
		Sampler: firstNonEmpty(r.Sampler, scheduler.Default), ScheduleType: r.ScheduleType, CFG: r.CFG, Width: r.Width, Height: r.Height},
		set: set, labels: labels, modelName: modelName(eng.model.Path), loras: &eng.loras, loraDir: k.LoRAFolder(),
		warn: func(w string) { warnings = append(warnings, w) }}
	var infos []GenerationInfo
	for chunk := range slices.Chunk(seeds, seedBatch(eng.model)) {
		results, settings, err := gen.run(ctx, eng.pipeline, chunk, progress)
		if err != nil {
			return infos, err
		}
		gen.warn = nil // said once
		for i, res := range results {
			s := settings[i]
			g, err := k.lib.AddGeneration(ctx, store.Generation{Prompt: s.Prompt, Negative: s.Negative, Seed: s.Seed,
				Sampler: scheduler.DisplayName(res.Sampler), Steps: s.Steps, CFG: s.CFG, Width: s.Width, Height: s.Height, Strength: s.Strength,
				ModelHash: eng.model.Hash, IdentifierVersions: versions, SubjectID: r.SubjectID, ActionID: r.ActionID,
				Settings: &s}, res.Image)
			if err != nil {
				return infos, err
			}
			info := generationInfo(k.lib, g)
			info.Warnings = warnings
			infos = append(infos, info)
		}
	}
	return infos, nil
}

// seedBatch is how many images of one prompt Kata draws in one batch on m:
// 16 (the built-in model's 4x4 grid, 3.99 s against 16 images alone at
// 0.48 s each, BenchmarkBuiltinGrid and BenchmarkBuiltinImage) when its
// latents are at most sd.SmallLatent a side; 1 for larger models, whose
// activations grow with the batch and whose ops already fill the cores.
func seedBatch(m *sd.Model) int {
	if m.UNet.SampleSize <= sd.SmallLatent {
		return 16
	}
	return 1
}

// identifierFiles finds, for every trigger named in text and every bare
// word of an imported embedding (ImportIdentifier) that text holds, the
// newest identifier version of that action, preferring ones trained on
// modelHash, with its label for the image's settings (identifierLabel: the
// trigger, as kata generate names it, never the action's name).
func (k *Kata) identifierFiles(ctx context.Context, text, modelHash string) (paths []string, versions []int64, labels []string, err error) {
	var actions []store.Action
	for _, trigger := range placeholder.Find(text) {
		a, err := k.actionByTrigger(ctx, trigger)
		if err != nil {
			return nil, nil, nil, err
		}
		actions = append(actions, a)
	}
	words, err := k.wordActions(ctx, text)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, a := range words {
		if !slices.ContainsFunc(actions, func(b store.Action) bool { return b.ID == a.ID }) {
			actions = append(actions, a)
		}
	}
	for _, a := range actions {
		best, err := k.bestVersion(ctx, a, modelHash)
		if err != nil {
			return nil, nil, nil, err
		}
		path := k.lib.BlobPath(best.File)
		label, err := identifierLabel(a.Trigger, path)
		if err != nil {
			return nil, nil, nil, err
		}
		paths, versions, labels = append(paths, path), append(versions, best.ID), append(labels, label)
	}
	return paths, versions, labels, nil
}

// bestVersion returns the newest identifier version of action a, preferring
// ones trained on modelHash.
func (k *Kata) bestVersion(ctx context.Context, a store.Action, modelHash string) (store.IdentifierVersion, error) {
	ids, err := k.lib.Identifiers(ctx, a.ID)
	if err != nil {
		return store.IdentifierVersion{}, err
	}
	var best store.IdentifierVersion
	bestMatches := false
	for _, id := range ids {
		v, err := k.lib.LatestVersion(ctx, id.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return store.IdentifierVersion{}, err
		}
		matches := id.BaseModelHash == modelHash
		if best.ID == 0 || (matches && !bestMatches) || (matches == bestMatches && v.Created.After(best.Created)) {
			best, bestMatches = v, matches
		}
	}
	if best.ID == 0 {
		return best, fmt.Errorf("action %s (%s) is not trained yet: train it on the Actions page", a.Name, a.Trigger)
	}
	return best, nil
}

// wordActions returns the actions holding an imported embedding whose bare
// word (the "word" its import recorded) text holds as a whole word, ignoring
// case. Loading one the prompt does not use in the end is harmless: only
// the identifiers a prompt names are applied and recorded.
func (k *Kata) wordActions(ctx context.Context, text string) ([]store.Action, error) {
	all, err := k.lib.Actions(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Action
	for _, a := range all {
		ids, err := k.lib.Identifiers(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			v, err := k.lib.LatestVersion(ctx, id.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if w, _ := v.Params["word"].(string); w != "" && holdsWord(text, w) {
				out = append(out, a)
				break
			}
		}
	}
	return out, nil
}

// holdsWord reports whether text holds word between characters that cannot
// be part of a bare word (see adi.Identifier.Word), ignoring case.
func holdsWord(text, word string) bool {
	re, err := regexp.Compile(`(?i)(^|[^A-Za-z0-9_.\-])` + regexp.QuoteMeta(word) + `($|[^A-Za-z0-9_.\-])`)
	return err == nil && re.MatchString(text)
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
	// loras holds the LoRAs merged into p's model; nil merges the prompt's
	// LoRAs for this run only and restores the model afterwards.
	loras     *loraState
	loraDir   string     // where <lora:name> tags are found (LoRADir)
	loraFiles []LoRAFile // LoRAs given by path, applied after the prompt's
	// warn receives what was ignored (other extra networks, LoRA layers
	// that match no weight); nil drops it.
	warn func(string)
}

// identifierLabel names an identifier file in image settings the way the
// library does: "name:" and the first 12 hex digits of the file's SHA-256,
// which is how a library finds the identifier again.
func identifierLabel(trigger, path string) (string, error) {
	h, err := contenthash.File(path)
	if err != nil {
		return "", fmt.Errorf("identifier %s: %w", path, err)
	}
	return placeholder.Label(trigger, h), nil
}

// run merges the LoRAs the prompt's tags and g.loraFiles name into p's
// model (removing the tags from the prompt the text encoder sees), puts
// the identifiers into the options, samples one image per seed on p in one
// batch (g.opts.Seed is ignored; progress, when set, after each step) and
// returns them with their settings, the one place
// Kata's generations get them: the prompts as written, the AUTOMATIC1111
// sampler name and schedule type, "Model hash" only where A1111 would
// compute the same (sd.Model.InfotextHash), strength only for
// image-to-image, "Clip skip" only above 1, the labels of the identifiers
// the prompts use (written as "TI hashes"; never of ones loaded but not
// named), the LoRA hashes and the external VAE.
func (g generation) run(ctx context.Context, p *sd.Pipeline, seeds []uint64, progress func(step, total int)) ([]*sd.Result, []imagemeta.Settings, error) {
	opts := g.opts
	if g.loras == nil {
		g.loras = &loraState{}
		defer g.loras.restore()
	}
	pl, err := g.loras.resolveLoRAs(opts.Prompt, g.loraDir, g.loraFiles)
	if err != nil {
		return nil, nil, err
	}
	ignored, err := g.loras.use(p.Model, pl.uses)
	if err != nil {
		return nil, nil, err
	}
	if g.warn != nil {
		for _, w := range append(pl.warnings, ignoredWarnings(ignored)...) {
			g.warn(w)
		}
	}
	opts.Prompt = pl.text
	if err := g.set.ApplyToGenerate(&opts); err != nil {
		return nil, nil, err
	}
	if progress != nil {
		opts.OnStep = func(step, total int, _ []float32) { progress(step, total) }
	}
	// A cancellation stops the sampler within an op, not at the end of a step.
	stopWatch := backend.Watch(ctx, p.Backend)
	results, err := p.GenerateBatch(ctx, opts, seeds)
	stopWatch()
	if err != nil {
		return nil, nil, err
	}
	settings := make([]imagemeta.Settings, len(results))
	for i, res := range results {
		settings[i] = g.settings(p, res, pl)
	}
	return results, settings, nil
}

// settings are the settings res records (run's comment lists them).
func (g generation) settings(p *sd.Pipeline, res *sd.Result, pl promptLoRAs) imagemeta.Settings {
	o := res.Options
	sampler, schedule := scheduler.Infotext(res.Sampler)
	s := imagemeta.Settings{
		Prompt: pl.recorded, Negative: g.opts.Negative, Steps: o.Steps, Sampler: sampler, ScheduleType: schedule,
		CFG: o.CFG, Seed: int64(o.Seed), Width: o.Width, Height: o.Height, Model: g.modelName, ModelHash: p.Model.InfotextHash(),
		LoraHashes: loraHashes(pl.uses),
	}
	if p.Model.VAEPath != "" {
		s.VAE, s.VAEHash = filepath.Base(filepath.Clean(p.Model.VAEPath)), p.Model.VAEHash
	}
	used := g.set.Used(g.opts.Prompt + "\n" + g.opts.Negative)
	for i, id := range g.set.List() {
		if i < len(g.labels) && slices.Contains(used, id) {
			s.Identifiers = append(s.Identifiers, g.labels[i])
		}
	}
	if o.InitImage != nil {
		s.Strength = o.Strength
	}
	if o.ClipSkip > 1 {
		s.Extra = map[string]string{"Clip skip": fmt.Sprint(o.ClipSkip)}
	}
	return s
}

// SamplerChoice is one entry of the window's sampler menu.
type SamplerChoice struct {
	Label     string // AUTOMATIC1111's name ("DPM++ 2M"), what GenerateRequest.Sampler takes
	Schedules bool   // takes every schedule type (else only Automatic)
	Default   bool   // scheduler.Default
}

// SamplerChoices lists the samplers Kata offers, in the sampler table's order.
func SamplerChoices() []SamplerChoice {
	def, _ := scheduler.CanonicalName(scheduler.Default)
	var out []SamplerChoice
	for _, s := range scheduler.Samplers() {
		out = append(out, SamplerChoice{Label: s.Label, Schedules: s.Schedules, Default: s.ID == def})
	}
	return out
}

// ScheduleTypeLabels lists AUTOMATIC1111's schedule type labels,
// "Automatic" first, for GenerateRequest.ScheduleType.
func ScheduleTypeLabels() []string {
	var out []string
	for _, st := range scheduler.ScheduleTypes() {
		out = append(out, st.Label)
	}
	return out
}
