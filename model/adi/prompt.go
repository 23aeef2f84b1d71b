package adi

import (
	"fmt"
	"slices"
	"strings"

	"kata/model/placeholder"
	"kata/model/sd"
)

// Identifiers is a set of loaded identifiers that prompts may name.
type Identifiers struct {
	list []*Identifier
}

// NewIdentifiers returns a set of ids; two identifiers with one trigger or
// different widths are an error.
func NewIdentifiers(ids ...*Identifier) (*Identifiers, error) {
	s := &Identifiers{}
	for _, id := range ids {
		if err := id.Validate(0); err != nil {
			return nil, err
		}
		if s.Get(id.Trigger) != nil {
			return nil, fmt.Errorf("two identifiers use the trigger %s", id.Trigger)
		}
		if len(s.list) > 0 && s.list[0].Width() != id.Width() {
			return nil, fmt.Errorf("identifiers %s and %s have different widths (%d, %d)", s.list[0].Trigger, id.Trigger, s.list[0].Width(), id.Width())
		}
		s.list = append(s.list, id)
	}
	return s, nil
}

// Len returns the number of identifiers.
func (s *Identifiers) Len() int {
	if s == nil {
		return 0
	}
	return len(s.list)
}

// List returns the identifiers in the order given.
func (s *Identifiers) List() []*Identifier {
	if s == nil {
		return nil
	}
	return slices.Clone(s.list)
}

// Get returns the identifier of trigger (case-insensitive), or nil.
func (s *Identifiers) Get(trigger string) *Identifier {
	if s == nil {
		return nil
	}
	t := strings.ToLower(trigger)
	for _, id := range s.list {
		if strings.ToLower(id.Trigger) == t {
			return id
		}
	}
	return nil
}

// Check returns an error naming every `<placeholder>` of prompt that is not
// in the set.
func (s *Identifiers) Check(prompt string) error {
	var unknown []string
	for _, p := range placeholder.Find(prompt) {
		if s.Get(p) == nil {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	known := "none loaded"
	if s.Len() > 0 {
		var ts []string
		for _, id := range s.list {
			ts = append(ts, id.Trigger)
		}
		known = "loaded: " + strings.Join(ts, ", ")
	}
	return fmt.Errorf("unknown placeholder %s in prompt (%s; load one with --identifier FILE)", strings.Join(unknown, ", "), known)
}

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
	return placeholder.Pattern.ReplaceAllStringFunc(prompt, strings.ToLower)
}
