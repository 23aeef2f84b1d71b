package adi

import (
	"context"
	"fmt"
	"image"
	"strings"

	"github.com/gomlx/gomlx/backends"

	"kata/model/sd"
)

// LoadIdentifiers reads identifier files (Kata's or the AUTOMATIC1111 /
// diffusers textual-inversion layouts) for use with model m. An identifier
// trained for another text width, or with a layer count the UNet lacks, is an
// error; one trained on another base model gives a warning (returned, one
// line each). Two files with one trigger are an error.
func LoadIdentifiers(paths []string, m *sd.Model) (*Identifiers, []string, error) {
	var list []*Identifier
	var warnings []string
	for _, p := range paths {
		id, err := Load(p)
		if err != nil {
			return nil, nil, err
		}
		w, err := CheckCompat(id, m.Text.HiddenSize, m.UNet.NumCrossAttentionLayers(), m.SHA256)
		if err != nil {
			return nil, nil, fmt.Errorf("identifier %s: %w", p, err)
		}
		if w != "" {
			warnings = append(warnings, w)
		}
		list = append(list, id)
	}
	set, err := NewIdentifiers(list...)
	if err != nil {
		return nil, nil, err
	}
	return set, warnings, nil
}

// SD returns the identifiers in the form sd.GenerateOptions.Identifiers takes:
// each trigger with its vectors (one row, or one per cross-attention layer).
func (s *Identifiers) SD() []sd.Identifier {
	if s == nil {
		return nil
	}
	out := make([]sd.Identifier, 0, len(s.list))
	for _, id := range s.list {
		out = append(out, sd.Identifier{Token: id.Trigger, Vectors: id.Vectors})
	}
	return out
}

// ApplyToGenerate checks that every `<placeholder>` in the prompt and the
// negative prompt is a loaded identifier and puts the identifiers into opts;
// an unknown placeholder is an error naming it. Placeholders are written in
// lower case in the prompts (the tokenizer matches them case-insensitively,
// the pipeline by exact text).
func (s *Identifiers) ApplyToGenerate(opts *sd.GenerateOptions) error {
	if err := s.Check(opts.Prompt); err != nil {
		return err
	}
	if err := s.Check(opts.Negative); err != nil {
		return fmt.Errorf("negative prompt: %w", err)
	}
	opts.Prompt = lowerPlaceholders(opts.Prompt)
	opts.Negative = lowerPlaceholders(opts.Negative)
	opts.Identifiers = append(opts.Identifiers, s.SD()...)
	return nil
}

func lowerPlaceholders(prompt string) string {
	return placeholderRE.ReplaceAllStringFunc(prompt, strings.ToLower)
}

// BaseOptions tune the renderers NewBase attaches.
type BaseOptions struct {
	Img2ImgSteps  int    // sampler steps of a full image-to-image schedule; default 20
	PreviewSteps  int    // default 20
	PreviewPrompt string // template with "{}" for the trigger; default DefaultCaption
	PreviewSeed   uint64 // fixed, so previews of successive steps compare
	// Pipeline, when set, renders contrast images and previews instead of a
	// new one, so that a caller that also generates compiles its graphs once.
	// It must run m on backend.
	Pipeline *sd.Pipeline
}

// NewBase prepares a training base for model m: through an sd.Pipeline,
// image-to-image for ADI's negatives and previews.
func NewBase(backend backends.Backend, m *sd.Model, bo BaseOptions) (Base, error) {
	if bo.Img2ImgSteps <= 0 {
		bo.Img2ImgSteps = 20
	}
	if bo.PreviewSteps <= 0 {
		bo.PreviewSteps = 20
	}
	if bo.PreviewPrompt == "" {
		bo.PreviewPrompt = DefaultCaption
	}
	p := bo.Pipeline
	if p == nil {
		var err error
		if p, err = sd.NewPipeline(backend, m); err != nil {
			return Base{}, err
		}
	}
	img2img := func(ctx context.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error) {
		b := img.Bounds()
		res, err := p.Generate(ctx, sd.GenerateOptions{Prompt: prompt, Steps: bo.Img2ImgSteps, InitImage: img,
			Strength: strength, Seed: seed, Width: b.Dx(), Height: b.Dy()})
		if err != nil {
			return nil, err
		}
		return res.Image, nil
	}
	preview := func(ctx context.Context, id *Identifier) (image.Image, error) {
		res, err := p.Generate(ctx, sd.GenerateOptions{Prompt: Fill(bo.PreviewPrompt, id.Trigger), Steps: bo.PreviewSteps,
			Seed: bo.PreviewSeed, Identifiers: []sd.Identifier{{Token: id.Trigger, Vectors: id.Vectors}}})
		if err != nil {
			return nil, err
		}
		return res.Image, nil
	}
	return Base{Model: m, Backend: backend, Img2Img: img2img, Preview: preview}, nil
}
