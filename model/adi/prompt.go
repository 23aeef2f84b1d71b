package adi

import (
	"fmt"
	"slices"
	"strconv"
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
// An N-token embedding becomes N single-vector tokens, the trigger and
// tokenNames' extra ones, which Expand puts after the trigger in prompts.
func (s *Identifiers) SD() []sd.Identifier {
	if s == nil {
		return nil
	}
	out := make([]sd.Identifier, 0, len(s.list))
	for _, id := range s.list {
		if id.Tokens() == 1 {
			out = append(out, sd.Identifier{Token: id.Trigger, Vectors: id.Vectors})
			continue
		}
		for j, name := range tokenNames(id) {
			out = append(out, sd.Identifier{Token: name, Vectors: id.Vectors[j : j+1]})
		}
	}
	return out
}

// tokenNames returns the prompt tokens of id's vectors: its trigger, then
// for an N-token embedding "<name.2>" .. "<name.N>", in lower case.
func tokenNames(id *Identifier) []string {
	t := strings.ToLower(id.Trigger)
	names := []string{t}
	for j := 2; j <= id.Tokens(); j++ {
		names = append(names, strings.TrimSuffix(t, ">")+"."+strconv.Itoa(j)+">")
	}
	return names
}

// Used returns the identifiers of the set that text names, by trigger or
// by bare word (see Identifier.Word), in the set's order: the ones that
// take effect in a generation with text as its prompts.
func (s *Identifiers) Used(text string) []*Identifier {
	if s == nil {
		return nil
	}
	named := map[string]bool{}
	for _, p := range placeholder.Find(text) {
		named[strings.ToLower(p)] = true
	}
	var out []*Identifier
	for _, id := range s.list {
		if named[strings.ToLower(id.Trigger)] || (id.Word() != "" && len(wordSpans(text, id.Word())) > 0) {
			out = append(out, id)
		}
	}
	return out
}

// Expand rewrites a prompt the way the pipeline takes it: bare words of
// other tools' embeddings become their triggers, triggers are lower case
// (the tokenizer matches them case-insensitively, the pipeline by exact
// text), and the trigger of an N-token embedding is followed by its other
// N-1 tokens.
func (s *Identifiers) Expand(prompt string) string {
	if s == nil {
		return lowerPlaceholders(prompt)
	}
	for _, id := range s.list {
		if w := id.Word(); w != "" {
			prompt = replaceWord(prompt, w, id.Trigger)
		}
	}
	prompt = lowerPlaceholders(prompt)
	for _, id := range s.list {
		if id.Tokens() > 1 {
			names := tokenNames(id)
			prompt = strings.ReplaceAll(prompt, names[0], strings.Join(names, " "))
		}
	}
	return prompt
}

// ApplyToGenerate checks that every `<placeholder>` in the prompt and the
// negative prompt is a loaded identifier, rewrites both with Expand and puts
// the identifiers into opts; an unknown placeholder is an error naming it.
func (s *Identifiers) ApplyToGenerate(opts *sd.GenerateOptions) error {
	if err := s.Check(opts.Prompt); err != nil {
		return err
	}
	if err := s.Check(opts.Negative); err != nil {
		return fmt.Errorf("negative prompt: %w", err)
	}
	opts.Prompt = s.Expand(opts.Prompt)
	opts.Negative = s.Expand(opts.Negative)
	opts.Identifiers = append(opts.Identifiers, s.SD()...)
	return nil
}

// wordSpans returns the [start, end) byte spans where word stands in text as
// a whole word, ignoring case: not inside a longer word and not already in
// a <trigger>.
func wordSpans(text, word string) [][2]int {
	lower, w := strings.ToLower(text), strings.ToLower(word)
	var spans [][2]int
	for from := 0; ; {
		i := strings.Index(lower[from:], w)
		if i < 0 {
			return spans
		}
		start, end := from+i, from+i+len(w)
		before, after := byte(' '), byte(' ')
		if start > 0 {
			before = lower[start-1]
		}
		if end < len(lower) {
			after = lower[end]
		}
		if !wordByte(before) && before != '<' && before != '.' && !wordByte(after) && after != '>' {
			spans = append(spans, [2]int{start, end})
		}
		from = start + 1
	}
}

func wordByte(c byte) bool {
	return c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 0x80
}

// replaceWord replaces every whole-word occurrence of word in text (see
// wordSpans) with repl.
func replaceWord(text, word, repl string) string {
	spans := wordSpans(text, word)
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(text[last:sp[0]])
		b.WriteString(repl)
		last = sp[1]
	}
	b.WriteString(text[last:])
	return b.String()
}

func lowerPlaceholders(prompt string) string {
	return placeholder.Pattern.ReplaceAllStringFunc(prompt, strings.ToLower)
}
