package adi

import (
	"context"
	"image"

	"github.com/gomlx/gomlx/backends"

	"kata/model/placeholder"
	"kata/model/sd"
)

// Base is the frozen model a run trains on, with optional renderers.
type Base struct {
	Model   *sd.Model
	Backend backends.Backend
	// Img2Img synthesises ADI's negatives (nil: only user contrast images are used).
	Img2Img Img2Img
	// Preview renders the identifier in a prompt for progress events (optional).
	Preview func(ctx context.Context, id *Identifier) (image.Image, error)
}

// BaseOptions tune the renderers NewBase attaches.
type BaseOptions struct {
	Img2ImgSteps  int    // sampler steps of a full image-to-image schedule; default sd.DefaultSteps
	PreviewSteps  int    // default sd.DefaultSteps
	PreviewPrompt string // template with "{}" for the trigger; default placeholder.DefaultCaption
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
		bo.Img2ImgSteps = sd.DefaultSteps
	}
	if bo.PreviewSteps <= 0 {
		bo.PreviewSteps = sd.DefaultSteps
	}
	if bo.PreviewPrompt == "" {
		bo.PreviewPrompt = placeholder.DefaultCaption
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
		res, err := p.Generate(ctx, sd.GenerateOptions{Prompt: placeholder.Fill(bo.PreviewPrompt, id.Trigger), Steps: bo.PreviewSteps,
			Seed: bo.PreviewSeed, Identifiers: []sd.Identifier{{Token: id.Trigger, Vectors: id.Vectors}}})
		if err != nil {
			return nil, err
		}
		return res.Image, nil
	}
	return Base{Model: m, Backend: backend, Img2Img: img2img, Preview: preview}, nil
}
