package adi

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

var placeholderRE = regexp.MustCompile(`<[A-Za-z0-9][A-Za-z0-9_+.\-]*>`)

// Placeholders returns the distinct `<name>` placeholders of prompt in order
// of first appearance, lower-cased.
func Placeholders(prompt string) []string {
	var out []string
	for _, m := range placeholderRE.FindAllString(prompt, -1) {
		m = strings.ToLower(m)
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

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
	for _, p := range Placeholders(prompt) {
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
