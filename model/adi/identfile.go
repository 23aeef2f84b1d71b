package adi

import (
	"errors"
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
	// KeyLayerIndex sits beside KeyLayerVectors in Kata's layer-wise files,
	// [L, 1] F32: row i holds the cross-attention layer that row i of the
	// vectors serves (0..L-1). It is there so that other tools refuse the
	// file instead of reading the L layer vectors as an L-token embedding:
	// AUTOMATIC1111 loads a tensor dict only when it has exactly one key
	// (modules/textual_inversion), diffusers' load_textual_inversion raises
	// on a dict of several keys without "emb_params" or "string_to_param",
	// and ComfyUI, which takes the first tensor in key order
	// (comfy/sd1_clip.py load_embed), ignores it with a shape-mismatch
	// warning because its last dimension, 1, is no text width. The key sorts
	// before KeyLayerVectors and Kata writes it first.
	KeyLayerIndex = "kata.index"
	// KeyEmbParams is the one key AUTOMATIC1111, ComfyUI and diffusers read
	// from a textual-inversion .safetensors file, [N, D]: N vectors are N
	// prompt tokens the trigger stands for (Kata trains N = 1).
	KeyEmbParams = "emb_params"
	// keyStringToParam is the key of a flattened AUTOMATIC1111 .pt
	// embedding ({"string_to_param": {"*": [N, D]}}) saved as safetensors.
	keyStringToParam = "string_to_param.*"
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

	// metaWord keeps, in Kata's copy of another tool's file (a library's),
	// the bare word the original answers to (see Identifier.Word).
	metaWord = "word"
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
// identifiers as KeyEmbParams [N, D] (so the same file also loads in
// AUTOMATIC1111/ComfyUI/diffusers), layer-wise ones as KeyLayerIndex [L, 1]
// and KeyLayerVectors [L, D], a pair those tools refuse; the metadata goes
// to the header's "__metadata__".
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
	strs := meta.strings()
	if w := id.Word(); w != "" {
		strs[metaWord] = w
	}
	n := len(id.Vectors)
	if !id.Method.LayerWise() {
		return []safetensors.Tensor{safetensors.F32Tensor(KeyEmbParams, []int{n, id.Width()}, id.Flat())}, strs, nil
	}
	index := make([]float32, n)
	for i := range index {
		index[i] = float32(i)
	}
	return []safetensors.Tensor{
		safetensors.F32Tensor(KeyLayerIndex, []int{n, 1}, index),
		safetensors.F32Tensor(KeyLayerVectors, []int{n, id.Width()}, id.Flat()),
	}, strs, nil
}

// ExportA1111 writes a textual-inversion identifier in the one-key layout
// that AUTOMATIC1111, ComfyUI and diffusers' load_textual_inversion read:
// {"emb_params": [N, D]}. Layer-wise identifiers have no such form (those
// tools feed one embedding to every layer) and give an error; SingleVector
// makes one from them, losing what is layer-wise.
func ExportA1111(path string, id *Identifier) error {
	if err := id.Validate(0); err != nil {
		return err
	}
	if id.Method.LayerWise() {
		return fmt.Errorf("export %s: a %s identifier has %d layer vectors; only single-vector (ti) identifiers export to the AUTOMATIC1111 layout (see the single-vector export)", id.Trigger, id.Method, len(id.Vectors))
	}
	t := safetensors.F32Tensor(KeyEmbParams, []int{len(id.Vectors), id.Width()}, id.Flat())
	meta := map[string]string{"name": strings.Trim(id.Trigger, "<>")}
	if err := safetensors.Write(path, []safetensors.Tensor{t}, meta); err != nil {
		return fmt.Errorf("export identifier %s to %s: %w", id.Trigger, path, err)
	}
	return nil
}

// SingleVectorLoss states what SingleVector drops, for users choosing it.
const SingleVectorLoss = "the single vector is the mean of the layer vectors: every layer gets the same vector, so what the identifier learned per layer (which layers carry the pose, which the look) is lost and results differ from Kata's"

// SingleVector returns a TI identifier made from a layer-wise one, for tools
// that feed one embedding to every layer: its one vector is the mean of the
// L layer vectors (see SingleVectorLoss). A TI identifier is returned as a
// copy. The metadata is kept, with method ti.
func SingleVector(id *Identifier) (*Identifier, error) {
	if err := id.Validate(0); err != nil {
		return nil, err
	}
	out := &Identifier{Metadata: id.Metadata}
	if !id.Method.LayerWise() {
		out.Vectors = slices.Clone(id.Vectors)
		return out, nil
	}
	mean := make([]float32, id.Width())
	for _, v := range id.Vectors {
		for j, x := range v {
			mean[j] += x
		}
	}
	for j := range mean {
		mean[j] /= float32(len(id.Vectors))
	}
	out.Method, out.Beta = MethodTI, 0
	out.Vectors = [][]float32{mean}
	return out, nil
}

// Load reads an identifier file: Kata's own layout, the AUTOMATIC1111 /
// ComfyUI one-key {"emb_params": [N, D]} layout (an N-token embedding), a
// flattened AUTOMATIC1111 .pt {"string_to_param.*": [N, D]}, or diffusers'
// learned_embeds {"<token>": [D] or [N, D]}. Files without Kata metadata
// get the trigger from the token key or from the file name ("x.safetensors"
// -> "<x>"), method ti, and also answer to the bare file-name word, as
// AUTOMATIC1111 triggers them (see Word); Kata's files answer to the word
// kept in their metadata, which Save and Encode write for such identifiers
// (a library's copy of another tool's file). A pickled embedding (.pt, .bin)
// is refused with how to convert it.
func Load(path string) (*Identifier, error) {
	f, err := safetensors.Open(path)
	if errors.Is(err, safetensors.ErrPickle) {
		return nil, fmt.Errorf("load identifier %s: %w; convert it to .safetensors first, e.g. in Python: "+
			`d = torch.load(path, weights_only=True); safetensors.torch.save_file({"emb_params": next(iter(d["string_to_param"].values()))}, "%s.safetensors")`,
			path, err, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
	}
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
	case slices.Contains(names, keyStringToParam):
		key = keyStringToParam
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
	var meta Metadata
	word := ""
	if raw[metaFormat] == formatIdentID {
		if meta, err = parseMetadata(raw); err != nil {
			return nil, err
		}
		if meta.Version > FormatVersion {
			return nil, fmt.Errorf("identifier format version %d is newer than this Kata's %d", meta.Version, FormatVersion)
		}
		word = raw[metaWord] // set in Kata's copies of other tools' files
	} else {
		meta.Method = MethodTI
		if key == KeyLayerVectors {
			meta.Method = MethodPPlus
		}
		meta.Version = FormatVersion
		word = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		switch {
		case key != KeyEmbParams && key != KeyLayerVectors && key != keyStringToParam:
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
	id := &Identifier{Metadata: meta, word: word}
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
