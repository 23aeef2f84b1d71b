package adi

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"kata/model/placeholder"
)

// Method names a way of learning an identifier.
type Method string

// The three methods sharing one trainer.
const (
	// MethodTI is textual inversion: one vector used by every layer.
	MethodTI Method = "ti"
	// MethodPPlus is P+: one vector per cross-attention layer.
	MethodPPlus Method = "p+"
	// MethodADI is P+ trained on triples with ADI's gradient mask.
	MethodADI Method = "adi"
)

// ParseMethod reads a method name ("ti", "p+"/"pplus", "adi"), case-insensitive.
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ti", "textual-inversion":
		return MethodTI, nil
	case "p+", "pplus", "p-plus":
		return MethodPPlus, nil
	case "adi":
		return MethodADI, nil
	}
	return "", fmt.Errorf("unknown method %q: want ti, p+ or adi", s)
}

// LayerWise reports whether the method learns one vector per layer.
func (m Method) LayerWise() bool { return m == MethodPPlus || m == MethodADI }

// FormatVersion is the version of Kata's identifier file layout.
const FormatVersion = 1

// Metadata describes how an identifier was trained. It is stored as the
// safetensors "__metadata__" strings of Kata's identifier files.
type Metadata struct {
	Trigger       string    // placeholder as typed in prompts, e.g. "<handstand>"
	Method        Method    // ti, p+ or adi
	BaseModelHash string    // hash of the base model the vectors belong to
	TextWidth     int       // text encoder width D (768 for SD 1.5)
	Steps         int       // optimiser steps trained
	Beta          float64   // ADI mask quantile (0 for TI/P+)
	LR            float64   // learning rate
	InitWord      string    // word whose embedding initialised the vectors
	Created       time.Time // when the file was written (UTC)
	Version       int       // FormatVersion of the writer
}

// Identifier is a learned placeholder token with its layer-wise vectors.
type Identifier struct {
	Metadata
	// Vectors holds the input embeddings, [L][D]: L = the UNet's
	// cross-attention layer count (16 for SD 1.x) for layer-wise methods, 1
	// for TI (the one vector serves every layer).
	Vectors [][]float32

	// word is the bare file-name word AUTOMATIC1111 would trigger a file
	// without Kata metadata by ("" for Kata's own files); see Word.
	word string
}

// Word returns the bare word that also triggers the identifier in prompts,
// as AUTOMATIC1111 triggers an embedding by its file name without
// extension ("easynegative.safetensors" -> "easynegative"): set for files
// other tools made (no Kata metadata) and Kata's copies of them, "" for
// Kata's own, whose trigger alone counts. Only words of letters, digits, '_', '-' and '.' qualify.
func (id *Identifier) Word() string {
	if !bareWord.MatchString(id.word) {
		return ""
	}
	return id.word
}

var bareWord = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)

// Tokens returns how many prompt tokens the trigger stands for: the number
// of vectors of a textual-inversion identifier (other tools' embeddings may
// have several), 1 for a layer-wise one.
func (id *Identifier) Tokens() int {
	if id.Method.LayerWise() {
		return 1
	}
	return len(id.Vectors)
}

// Width returns D, the length of each vector (0 when empty).
func (id *Identifier) Width() int {
	if len(id.Vectors) == 0 {
		return 0
	}
	return len(id.Vectors[0])
}

// Layer returns the vector used by cross-attention layer i: Vectors[i] for
// layer-wise identifiers, Vectors[0] for single-vector (TI) ones (and the
// first token's vector of a multi-token embedding).
func (id *Identifier) Layer(i int) []float32 {
	if len(id.Vectors) == 1 || !id.Method.LayerWise() {
		return id.Vectors[0]
	}
	return id.Vectors[i]
}

// Validate checks the trigger, that all vectors share one width, for
// layer-wise identifiers that the layer count is 1 or layers (pass layers
// <= 0 to skip that check), and that every value is finite. A TI identifier
// may hold any number of token vectors.
func (id *Identifier) Validate(layers int) error {
	if !placeholder.Is(id.Trigger) {
		return fmt.Errorf("identifier trigger %q is not a <placeholder>", id.Trigger)
	}
	if len(id.Vectors) == 0 || len(id.Vectors[0]) == 0 {
		return fmt.Errorf("identifier %s has no vectors", id.Trigger)
	}
	for i, v := range id.Vectors {
		if len(v) != len(id.Vectors[0]) {
			return fmt.Errorf("identifier %s: vector %d has width %d, vector 0 has %d", id.Trigger, i, len(v), len(id.Vectors[0]))
		}
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("identifier %s: vector %d value %d is %g (NaN or infinite values give black images)", id.Trigger, i, j, x)
			}
		}
	}
	if layers > 0 && id.Method.LayerWise() && len(id.Vectors) != 1 && len(id.Vectors) != layers {
		return fmt.Errorf("identifier %s has %d layer vectors; this model has %d cross-attention layers", id.Trigger, len(id.Vectors), layers)
	}
	return nil
}

// Flat returns the vectors as one row-major [L*D] slice (a copy).
func (id *Identifier) Flat() []float32 {
	out := make([]float32, 0, len(id.Vectors)*id.Width())
	for _, v := range id.Vectors {
		out = append(out, v...)
	}
	return out
}

// SetFlat replaces the vectors with rows of width d cut from flat (copied).
func (id *Identifier) SetFlat(flat []float32, d int) error {
	if d <= 0 || len(flat)%d != 0 {
		return fmt.Errorf("identifier: %d numbers are not rows of width %d", len(flat), d)
	}
	id.Vectors = make([][]float32, len(flat)/d)
	for i := range id.Vectors {
		id.Vectors[i] = slices.Clone(flat[i*d : (i+1)*d])
	}
	return nil
}

// NewIdentifier returns an identifier whose layers vectors (1 for TI) are all
// copies of init.
func NewIdentifier(trigger string, method Method, layers int, init []float32) (*Identifier, error) {
	t, err := placeholder.For(trigger)
	if err != nil {
		return nil, err
	}
	if !method.LayerWise() {
		layers = 1
	}
	if layers <= 0 || len(init) == 0 {
		return nil, fmt.Errorf("identifier %s: need layers > 0 and a non-empty initial vector", t)
	}
	id := &Identifier{Metadata: Metadata{Trigger: t, Method: method, TextWidth: len(init), Version: FormatVersion}}
	for range layers {
		id.Vectors = append(id.Vectors, slices.Clone(init))
	}
	return id, nil
}
