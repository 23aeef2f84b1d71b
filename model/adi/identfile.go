package adi

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"kata/model/placeholder"
	"kata/model/safetensors"
)

// Tensor keys of identifier files.
const (
	// KeyLayerVectors holds a layer-wise identifier in Kata's files, [L, D].
	KeyLayerVectors = "kata.layer_vectors"
	// KeyEmbParams is the one key AUTOMATIC1111, ComfyUI and diffusers read
	// from a textual-inversion .safetensors file, [N, D] (N vectors = N
	// prompt tokens; Kata writes and reads N = 1).
	KeyEmbParams = "emb_params"
)

// Metadata keys of Kata's identifier files.
const (
	metaFormat    = "kata.format"
	metaVersion   = "kata.version"
	metaTrigger   = "trigger"
	metaMethod    = "method"
	metaBaseHash  = "base_model_hash"
	metaWidth     = "text_width"
	metaSteps     = "steps"
	metaBeta      = "beta"
	metaLR        = "lr"
	metaInitWord  = "init_word"
	metaCreated   = "created"
	formatIdentID = "identifier"
)

func (m Metadata) strings() map[string]string {
	created := m.Created
	if created.IsZero() {
		created = time.Now()
	}
	return map[string]string{
		metaFormat:   formatIdentID,
		metaVersion:  strconv.Itoa(FormatVersion),
		metaTrigger:  m.Trigger,
		metaMethod:   string(m.Method),
		metaBaseHash: m.BaseModelHash,
		metaWidth:    strconv.Itoa(m.TextWidth),
		metaSteps:    strconv.Itoa(m.Steps),
		metaBeta:     strconv.FormatFloat(m.Beta, 'g', -1, 64),
		metaLR:       strconv.FormatFloat(m.LR, 'g', -1, 64),
		metaInitWord: m.InitWord,
		metaCreated:  created.UTC().Format(time.RFC3339),
	}
}

func parseMetadata(s map[string]string) (Metadata, error) {
	m := Metadata{
		Trigger:       s[metaTrigger],
		Method:        Method(s[metaMethod]),
		BaseModelHash: s[metaBaseHash],
		InitWord:      s[metaInitWord],
	}
	var err error
	num := func(key string, dst *int) {
		if v, ok := s[key]; ok && err == nil {
			if *dst, err = strconv.Atoi(v); err != nil {
				err = fmt.Errorf("metadata %s=%q: %w", key, v, err)
			}
		}
	}
	flt := func(key string, dst *float64) {
		if v, ok := s[key]; ok && err == nil {
			if *dst, err = strconv.ParseFloat(v, 64); err != nil {
				err = fmt.Errorf("metadata %s=%q: %w", key, v, err)
			}
		}
	}
	num(metaVersion, &m.Version)
	num(metaWidth, &m.TextWidth)
	num(metaSteps, &m.Steps)
	flt(metaBeta, &m.Beta)
	flt(metaLR, &m.LR)
	if v, ok := s[metaCreated]; ok && err == nil {
		if m.Created, err = time.Parse(time.RFC3339, v); err != nil {
			err = fmt.Errorf("metadata %s=%q: %w", metaCreated, v, err)
		}
	}
	return m, err
}

// Save writes id atomically to path in Kata's identifier layout: TI
// identifiers as KeyEmbParams [1, D] (so the same file also loads in
// AUTOMATIC1111/ComfyUI/diffusers), layer-wise ones as KeyLayerVectors
// [L, D]; the metadata goes to the header's "__metadata__".
func Save(path string, id *Identifier) error {
	ts, meta, err := id.file()
	if err == nil {
		err = safetensors.Write(path, ts, meta)
	}
	if err != nil {
		return fmt.Errorf("save identifier %s to %s: %w", id.Trigger, path, err)
	}
	return nil
}

// Encode writes id to w in the layout Save writes to a file.
func Encode(w io.Writer, id *Identifier) error {
	ts, meta, err := id.file()
	if err == nil {
		err = safetensors.Encode(w, ts, meta)
	}
	if err != nil {
		return fmt.Errorf("encode identifier %s: %w", id.Trigger, err)
	}
	return nil
}

// file is id as the tensors and metadata of Kata's identifier file.
func (id *Identifier) file() ([]safetensors.Tensor, map[string]string, error) {
	if err := id.Validate(0); err != nil {
		return nil, nil, err
	}
	meta := id.Metadata
	meta.TextWidth = id.Width()
	key := KeyLayerVectors
	if len(id.Vectors) == 1 {
		key = KeyEmbParams
	}
	return []safetensors.Tensor{safetensors.F32Tensor(key, []int{len(id.Vectors), id.Width()}, id.Flat())}, meta.strings(), nil
}

// ExportA1111 writes a single-vector identifier in the one-key layout that
// AUTOMATIC1111, ComfyUI and diffusers' load_textual_inversion read:
// {"emb_params": [1, D]}. Layer-wise identifiers have no such form (those
// tools feed one embedding to every layer) and give an error.
func ExportA1111(path string, id *Identifier) error {
	if err := id.Validate(0); err != nil {
		return err
	}
	if len(id.Vectors) != 1 {
		return fmt.Errorf("export %s: a %s identifier has %d layer vectors; only single-vector (ti) identifiers export to the AUTOMATIC1111 layout", id.Trigger, id.Method, len(id.Vectors))
	}
	t := safetensors.F32Tensor(KeyEmbParams, []int{1, id.Width()}, id.Flat())
	meta := map[string]string{"name": strings.Trim(id.Trigger, "<>")}
	if err := safetensors.Write(path, []safetensors.Tensor{t}, meta); err != nil {
		return fmt.Errorf("export identifier %s to %s: %w", id.Trigger, path, err)
	}
	return nil
}

// Load reads an identifier file: Kata's own layout, the AUTOMATIC1111 /
// ComfyUI one-key {"emb_params": [1, D]} layout, or diffusers'
// learned_embeds {"<token>": [D] or [1, D]}. Files without Kata metadata
// get the trigger from the token key or from the file name ("x.safetensors"
// -> "<x>") and method ti.
func Load(path string) (*Identifier, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load identifier %s: %w", path, err)
	}
	defer f.Close()
	id, err := decode(f, path)
	if err != nil {
		return nil, fmt.Errorf("load identifier %s: %w", path, err)
	}
	return id, nil
}

func decode(f *safetensors.File, path string) (*Identifier, error) {
	raw := f.Metadata()
	names := f.Names()
	var key string
	switch {
	case slices.Contains(names, KeyLayerVectors):
		key = KeyLayerVectors
	case slices.Contains(names, KeyEmbParams):
		key = KeyEmbParams
	case len(names) == 1:
		key = names[0]
	default:
		return nil, fmt.Errorf("not an identifier file: tensors %v (want %q, %q or one token key)", names, KeyLayerVectors, KeyEmbParams)
	}
	data, shape, err := f.Float32(key)
	if err != nil {
		return nil, err
	}
	switch len(shape) {
	case 1:
		shape = []int{1, shape[0]}
	case 2:
	default:
		return nil, fmt.Errorf("tensor %q has shape %v, want [N, width]", key, shape)
	}
	if shape[0] == 0 || shape[1] == 0 {
		return nil, fmt.Errorf("tensor %q is empty (shape %v)", key, shape)
	}
	if key != KeyLayerVectors && shape[0] != 1 {
		return nil, fmt.Errorf("tensor %q holds a %d-token embedding; Kata reads single-token ones", key, shape[0])
	}
	var meta Metadata
	if raw[metaFormat] == formatIdentID {
		if meta, err = parseMetadata(raw); err != nil {
			return nil, err
		}
		if meta.Version > FormatVersion {
			return nil, fmt.Errorf("identifier format version %d is newer than this Kata's %d", meta.Version, FormatVersion)
		}
	} else {
		meta.Method = MethodTI
		meta.Version = FormatVersion
		switch {
		case key != KeyEmbParams && key != KeyLayerVectors:
			meta.Trigger = key
		case raw["name"] != "":
			meta.Trigger = raw["name"]
		default:
			meta.Trigger = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		}
	}
	if meta.Trigger, err = placeholder.For(meta.Trigger); err != nil {
		return nil, err
	}
	if meta.TextWidth != 0 && meta.TextWidth != shape[1] {
		return nil, fmt.Errorf("metadata says text width %d, vectors have %d", meta.TextWidth, shape[1])
	}
	meta.TextWidth = shape[1]
	if meta.Method == "" {
		meta.Method = MethodTI
	}
	id := &Identifier{Metadata: meta}
	if err := id.SetFlat(data, shape[1]); err != nil {
		return nil, err
	}
	return id, id.Validate(0)
}

// CheckCompat tells whether id can be used with a base model whose text
// encoder has width textWidth, layers cross-attention layers and hash
// modelHash. A width or layer-count mismatch is an error; a different base
// model hash only returns a warning (the vectors often transfer between
// fine-tunes of one base), "" when there is nothing to warn about.
func CheckCompat(id *Identifier, textWidth, layers int, modelHash string) (warning string, err error) {
	if id.Width() != textWidth {
		return "", fmt.Errorf("identifier %s was trained for text width %d; this model's text encoder has width %d", id.Trigger, id.Width(), textWidth)
	}
	if err := id.Validate(layers); err != nil {
		return "", err
	}
	if id.BaseModelHash != "" && modelHash != "" && id.BaseModelHash != modelHash {
		return fmt.Sprintf("identifier %s was trained on base model %s, this model is %s: results may differ", id.Trigger, shortHash(id.BaseModelHash), shortHash(modelHash)), nil
	}
	return "", nil
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
