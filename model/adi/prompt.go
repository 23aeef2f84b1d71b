package adi

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"kata/model/tokenizer"
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

// EncodedPrompt is a tokenized prompt with the positions where identifier
// vectors replace token embeddings.
type EncodedPrompt struct {
	IDs       []int         // [T] padded ids (BOS ... EOS pad)
	Positions []int         // sequence positions holding a placeholder
	Which     []*Identifier // the identifier at each position
	Truncated bool          // the prompt was cut to fit T
}

// Encode tokenizes prompt to length ids (77 for SD 1.x) with every
// placeholder as one token, and locates the placeholders. An unknown
// placeholder, or one cut off by truncation, is an error. The tokenizer gets
// the set's triggers as added tokens.
func (s *Identifiers) Encode(tok *tokenizer.Tokenizer, prompt string, length int) (*EncodedPrompt, error) {
	if err := s.Check(prompt); err != nil {
		return nil, err
	}
	idOf := map[int]*Identifier{}
	for _, p := range Placeholders(prompt) {
		id := s.Get(p)
		n, err := tok.AddToken(id.Trigger)
		if err != nil {
			return nil, fmt.Errorf("placeholder %s: %w", id.Trigger, err)
		}
		idOf[n] = id
	}
	ids, truncated, err := tok.EncodePaddedTruncated(prompt, length)
	if err != nil {
		return nil, err
	}
	ep := &EncodedPrompt{IDs: ids, Truncated: truncated}
	seen := map[*Identifier]bool{}
	for pos, n := range ids {
		if id, ok := idOf[n]; ok {
			ep.Positions = append(ep.Positions, pos)
			ep.Which = append(ep.Which, id)
			seen[id] = true
		}
	}
	for _, id := range idOf {
		if !seen[id] {
			return nil, fmt.Errorf("placeholder %s falls beyond the %d-token limit of the prompt", id.Trigger, length-2)
		}
	}
	return ep, nil
}

// LayerWise reports whether any placeholder of the prompt carries
// layer-wise vectors (so the text encoder must run once per layer).
func (p *EncodedPrompt) LayerWise() bool {
	for _, id := range p.Which {
		if len(id.Vectors) > 1 {
			return true
		}
	}
	return false
}

// Replacements returns, for each of the lv encodings (1 when no placeholder
// is layer-wise, else the UNet's layer count), the placed embeddings as a
// row-major [T, D] slice and the keep mask [T] (0 at placeholder positions,
// 1 elsewhere): encoding i's input embeddings are
// tokens*keep + placed[i].
func (p *EncodedPrompt) Replacements(layers, width int) (placed [][]float32, keep []float32, err error) {
	lv := 1
	if p.LayerWise() {
		lv = layers
	}
	t := len(p.IDs)
	keep = make([]float32, t)
	for i := range keep {
		keep[i] = 1
	}
	placed = make([][]float32, lv)
	for l := range lv {
		placed[l] = make([]float32, t*width)
	}
	for k, pos := range p.Positions {
		id := p.Which[k]
		if id.Width() != width {
			return nil, nil, fmt.Errorf("identifier %s has width %d, the text encoder %d", id.Trigger, id.Width(), width)
		}
		if len(id.Vectors) != 1 && len(id.Vectors) != layers {
			return nil, nil, fmt.Errorf("identifier %s has %d layer vectors for a UNet with %d cross-attention layers", id.Trigger, len(id.Vectors), layers)
		}
		keep[pos] = 0
		for l := range lv {
			copy(placed[l][pos*width:(pos+1)*width], id.Layer(l))
		}
	}
	return placed, keep, nil
}
