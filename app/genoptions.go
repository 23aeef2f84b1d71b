package app

import (
	"errors"
	"fmt"

	"kata/model/scheduler"
	"kata/model/sd"
)

// GenerateDefaults are the generation settings the gallery starts from.
type GenerateDefaults struct {
	Sampler string  // a SamplerChoice Label ("Euler a")
	Steps   int     // 1..MaxSteps
	CFG     float64 // 1..30
	Size    int     // width and height; 0 for the model's native size, else 64..2048 in multiples of 8
}

// MaxSteps bounds the sampling steps the window accepts.
const MaxSteps = 150

// DefaultGenerateSettings are Kata's generation defaults.
var DefaultGenerateSettings = GenerateDefaults{Sampler: scheduler.DisplayName(scheduler.Default), Steps: sd.DefaultSteps, CFG: sd.DefaultCFG}

// Validate says what is wrong with d, naming the field.
func (d GenerateDefaults) Validate() error {
	var errs []error
	if _, ok := scheduler.CanonicalName(d.Sampler); !ok {
		errs = append(errs, fmt.Errorf("sampler %q: unknown", d.Sampler))
	}
	if d.Steps < 1 || d.Steps > MaxSteps {
		errs = append(errs, fmt.Errorf("steps %d: from 1 to %d", d.Steps, MaxSteps))
	}
	if d.CFG < 1 || d.CFG > 30 {
		errs = append(errs, fmt.Errorf("CFG %g: from 1 to 30", d.CFG))
	}
	if d.Size != 0 && (d.Size < 64 || d.Size > 2048 || d.Size%8 != 0) {
		errs = append(errs, fmt.Errorf("size %d: 0 (the model's own) or 64..2048 in multiples of 8", d.Size))
	}
	return errors.Join(errs...)
}

// Request fills a GenerateRequest's settings from d.
func (d GenerateDefaults) Request(r GenerateRequest) GenerateRequest {
	r.Sampler, r.Steps, r.CFG, r.Width, r.Height = d.Sampler, d.Steps, d.CFG, d.Size, d.Size
	return r
}
