// Package bench is Kata's action benchmark on Kata World, after
// ActionBench (Huang et al., CVPR 2024): for each benchmark action it trains
// a TI, a P+ and an ADI identifier from the action's world exemplar set
// (people only, few contexts), generates K images of each evaluation
// subject (robots, cats, bears, people of other colours) with every method
// on the same seeds, adds the prompt-only baseline (the action in words),
// and judges every image with Kata World's pose and subject judges.
// Action = the pose judge reads the trained action; Subject = the subject
// judge reads the prompted kind and colour; Total = both.
package bench

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"kata/model/adi"
	"kata/model/placeholder"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/world"
)

// Method is how an image of an action is asked for: MethodPrompt names the
// action in words; the others train an identifier with that adi.Method.
type Method string

// The methods of the benchmark, in table order.
const (
	MethodPrompt Method = "prompt"
	MethodTI     Method = Method(adi.MethodTI)
	MethodPPlus  Method = Method(adi.MethodPPlus)
	MethodADI    Method = Method(adi.MethodADI)
)

// Methods lists every method in table order: the prompt-only baseline, TI, P+, ADI.
var Methods = []Method{MethodPrompt, MethodTI, MethodPPlus, MethodADI}

// ParseMethod reads a method name: "prompt", or an adi method name ("ti",
// "p+", "adi", any case).
func ParseMethod(s string) (Method, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == string(MethodPrompt) {
		return MethodPrompt, nil
	}
	m, err := adi.ParseMethod(s)
	if err != nil {
		return "", fmt.Errorf("unknown method %q (want one of %v)", s, Methods)
	}
	return Method(m), nil
}

// Subject is an evaluation subject: a kind and a body colour of Kata World.
type Subject struct {
	Kind, Color string
}

// String is the subject in a prompt's words without article: "red robot".
func (s Subject) String() string { return s.Color + " " + s.Kind }

// Phrase is the subject as captions write it: "a red robot", "an orange cat".
func (s Subject) Phrase() string {
	return world.Subject(world.Scene{Kind: s.Kind, Color: s.Color})
}

// Validate reports a kind or colour the world does not know.
func (s Subject) Validate() error {
	if !slices.Contains(world.Kinds, s.Kind) {
		return fmt.Errorf("subject %q: unknown kind %q (want one of %v)", s, s.Kind, world.Kinds)
	}
	if !slices.Contains(world.Colors, s.Color) {
		return fmt.Errorf("subject %q: unknown colour %q (want one of %v)", s, s.Color, world.Colors)
	}
	return nil
}

// ParseSubject reads "red robot" (colour then kind, as String writes it).
func ParseSubject(text string) (Subject, error) {
	f := strings.Fields(strings.ToLower(text))
	if len(f) != 2 {
		return Subject{}, fmt.Errorf("subject %q: want a colour and a kind, e.g. \"red robot\"", text)
	}
	s := Subject{Color: f[0], Kind: f[1]}
	return s, s.Validate()
}

// DefaultSubjects are the 12 evaluation subjects: three robots, three cats,
// three bears and three people, in colours chosen so that the people's
// differ from one another. Exemplar sets show only people, so nine of the
// twelve differ from every exemplar in kind; Run reports which person
// subjects share a body colour with an action's exemplars (Result.Overlaps).
var DefaultSubjects = []Subject{
	{"robot", "red"}, {"robot", "blue"}, {"robot", "yellow"},
	{"cat", "black"}, {"cat", "orange"}, {"cat", "white"},
	{"bear", "brown"}, {"bear", "white"}, {"bear", "pink"},
	{"person", "green"}, {"person", "purple"}, {"person", "blue"},
}

// DefaultPrompt is the prompt template of every generated image: {s} is
// the subject's phrase ("a red robot") and {} the action, the identifier's
// trigger or, for MethodPrompt, the action in words ("doing a handstand").
// It follows the world's captions ("a photo of {s} {a} on {b}").
const DefaultPrompt = "a photo of {s} " + placeholder.Slot + " on a plain white background"

// Defaults of Options.
const (
	DefaultImages       = 4   // images per subject, action and method (ActionBench's K)
	DefaultExemplarSize = 128 // render size of exemplars; the trainer fits them to the model
)

// Options configure a benchmark run. Zero values take the defaults noted.
type Options struct {
	// Variant labels the run's rows in the table and the CSV (e.g.
	// "beta-0.3"); it changes nothing else. Letters, digits and ._+- only.
	Variant string

	Actions  []string  // trained actions; default world.BenchmarkActions
	Subjects []Subject // evaluation subjects; default DefaultSubjects
	Methods  []Method  // default Methods (table order is always Methods' order)

	Steps  int    // optimiser steps per identifier; default adi.DefaultSteps
	Images int    // images per subject, action and method (K); default DefaultImages
	Seed   uint64 // seeds exemplar sets, training and every image

	// Exemplars is the size of each action's exemplar set; default
	// world.ExemplarCount (ActionBench's 10).
	Exemplars    int
	ExemplarSize int // default DefaultExemplarSize

	SampleSteps int     // sampler steps per image; default sd.DefaultSteps
	Sampler     string  // default scheduler.Default
	CFG         float64 // default sd.DefaultCFG
	Prompt      string  // template; default DefaultPrompt

	// Train holds further training settings (learning rate, mask, contrast
	// images...) for every identifier; Method, Name, Steps and Seed are
	// set by Run.
	Train adi.Options
}

// Quick is the plumbing check CI runs: one action, two subjects, two
// training steps, one image of two sampler steps per subject, four
// exemplars. It says nothing about accuracy.
func Quick() Options {
	return Options{Actions: []string{"handstand"}, Subjects: []Subject{{"robot", "red"}, {"cat", "black"}},
		Steps: 2, Images: 1, Exemplars: 4, SampleSteps: 2}
}

// WithDefaults fills zero fields and checks every field; the returned
// options name everything a run does.
func (o Options) WithDefaults() (Options, error) {
	if o.Actions == nil {
		o.Actions = slices.Clone(world.BenchmarkActions)
	}
	if o.Subjects == nil {
		o.Subjects = slices.Clone(DefaultSubjects)
	}
	if o.Methods == nil {
		o.Methods = slices.Clone(Methods)
	}
	if o.Steps == 0 {
		o.Steps = adi.DefaultSteps
	}
	if o.Images == 0 {
		o.Images = DefaultImages
	}
	if o.Exemplars == 0 {
		o.Exemplars = world.ExemplarCount
	}
	if o.ExemplarSize == 0 {
		o.ExemplarSize = DefaultExemplarSize
	}
	if o.SampleSteps == 0 {
		o.SampleSteps = sd.DefaultSteps
	}
	if o.Sampler == "" {
		o.Sampler = scheduler.Default
	}
	if o.CFG == 0 {
		o.CFG = sd.DefaultCFG
	}
	if o.Prompt == "" {
		o.Prompt = DefaultPrompt
	}
	switch {
	case len(o.Actions) == 0 || len(o.Subjects) == 0 || len(o.Methods) == 0:
		return o, fmt.Errorf("bench: needs at least one action, subject and method")
	case o.Steps < 1 || o.Images < 1 || o.SampleSteps < 1:
		return o, fmt.Errorf("bench: steps %d, images %d, sampler steps %d: each must be at least 1", o.Steps, o.Images, o.SampleSteps)
	case o.Exemplars < 2:
		return o, fmt.Errorf("bench: %d exemplars: ADI needs at least 2", o.Exemplars)
	case o.ExemplarSize < world.MinSize:
		return o, fmt.Errorf("bench: exemplar size %d below %d", o.ExemplarSize, world.MinSize)
	case !strings.Contains(o.Prompt, placeholder.Slot):
		return o, fmt.Errorf("bench: prompt %q has no %s for the action", o.Prompt, placeholder.Slot)
	case o.Images > sd.MaxBatch:
		return o, fmt.Errorf("bench: %d images per cell: at most %d (one batch)", o.Images, sd.MaxBatch)
	case o.Variant != "" && !variantName.MatchString(o.Variant):
		return o, fmt.Errorf("bench: variant %q: want 1 to 64 letters, digits, '.', '_', '+' or '-'", o.Variant)
	}
	if err := unique("action", o.Actions, func(a string) error {
		if !world.IsBenchmark(a) {
			return fmt.Errorf("bench: %q is not a benchmark action (want one of %v)", a, world.BenchmarkActions)
		}
		return nil
	}); err != nil {
		return o, err
	}
	if err := unique("subject", o.Subjects, Subject.Validate); err != nil {
		return o, err
	}
	if err := unique("method", o.Methods, func(m Method) error {
		_, err := ParseMethod(string(m))
		return err
	}); err != nil {
		return o, err
	}
	// Table order, whatever order the caller listed.
	o.Methods = slices.DeleteFunc(slices.Clone(Methods), func(m Method) bool { return !slices.Contains(o.Methods, m) })
	return o, nil
}

var variantName = regexp.MustCompile(`^[A-Za-z0-9._+-]{1,64}$`)

// unique checks every element of list and that none repeats.
func unique[T comparable](what string, list []T, check func(T) error) error {
	seen := map[T]bool{}
	for _, x := range list {
		if err := check(x); err != nil {
			return err
		}
		if seen[x] {
			return fmt.Errorf("bench: %s %v listed twice", what, x)
		}
		seen[x] = true
	}
	return nil
}

// prompt is the prompt of subject doing action with method: the action in
// words for MethodPrompt, else its trigger.
func (o Options) prompt(m Method, s Subject, action string) (string, error) {
	phrase, err := actionPhrase(m, action)
	if err != nil {
		return "", err
	}
	return placeholder.Fill(strings.ReplaceAll(o.Prompt, "{s}", s.Phrase()), phrase), nil
}

// actionPhrase is what stands for action in a prompt of method m.
func actionPhrase(m Method, action string) (string, error) {
	if m == MethodPrompt {
		return world.Verb(action)
	}
	return placeholder.For(action)
}
