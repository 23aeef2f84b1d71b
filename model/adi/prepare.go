package adi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/backend"
	"kata/model/placeholder"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/tokenizer"
)

// prepare checks a run's settings against the model and turns the
// exemplars into what the training loop samples from: caption ids and slots,
// VAE latents, and for ADI the latents of the contrast images.
func prepare(ctx context.Context, base Base, given []Exemplar, opts Options, onEvent func(Event)) (*trainer, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if base.Model == nil || base.Backend == nil || base.Model.Tokenizer == nil {
		return nil, fmt.Errorf("training needs a loaded model (with its tokenizer) and a backend")
	}
	t := &trainer{base: base, opts: o, onEvent: onEvent, tok: base.Model.Tokenizer.Clone()}
	if err := t.shapes(); err != nil {
		return nil, err
	}
	onEvent(Event{Kind: EventPrepare, Message: "reading exemplars"})
	exemplars, err := fitExemplars(given, t.trigger, t.opts.Resolution, o.Fit, o.Caption)
	if err != nil {
		return nil, err
	}
	if o.Method == MethodADI && len(exemplars) < 2 {
		return nil, fmt.Errorf("adi needs at least 2 exemplars (the positive of a triple is another exemplar); got %d", len(exemplars))
	}
	if err := t.encodeCaptions(exemplars); err != nil {
		return nil, err
	}
	enc, err := newLatentEncoder(base.Backend, base.Model)
	if err != nil {
		return nil, err
	}
	if err := t.encodeAnchors(ctx, enc, exemplars); err != nil {
		return nil, err
	}
	if o.Method == MethodADI {
		if err := t.encodeNegatives(ctx, enc, exemplars); err != nil {
			return nil, err
		}
	}
	if t.lossFn, err = NewLossFunc(base.Backend, base.Model.Ctx); err != nil {
		return nil, err
	}
	t.lossFn.SetSamplesPerCall(o.Memory.Split.samplesPerCall())
	t.lossFn.SetTextApart(o.Memory.TextApart)
	t.lossFn.SetConcurrentCalls(o.Memory.concurrent(backend.PureGo(base.Backend), t.latDim[1]))
	t.compute = t.lossFn.Compute
	t.fp = t.fingerprint(exemplars)
	return t, nil
}

// shapes derives the trigger, the vector count and width, the resolution
// and latent size, and the noise schedule from the options and the model.
func (t *trainer) shapes() error {
	o, m := &t.opts, t.base.Model
	var err error
	if t.trigger, err = placeholder.For(o.Name); err != nil {
		return err
	}
	t.layers = m.UNet.NumCrossAttentionLayers()
	t.width = m.Text.HiddenSize
	t.lv = 1
	if o.Method.LayerWise() {
		t.lv = t.layers
	}
	if o.Init != nil {
		if _, err := CheckCompat(o.Init, t.width, t.layers, ""); err != nil {
			return err
		}
		if len(o.Init.Vectors) > t.lv {
			return fmt.Errorf("identifier %s has %d layer vectors; a %s run learns one", o.Init.Trigger, len(o.Init.Vectors), o.Method)
		}
	}
	factor := m.VAE.Factor()
	if o.Resolution <= 0 {
		o.Resolution = m.NativeSize()
	}
	if mult := factor * (1 << (len(m.UNet.BlockOutChannels) - 1)); o.Resolution%mult != 0 {
		return fmt.Errorf("resolution %d is not a multiple of %d", o.Resolution, mult)
	}
	h := o.Resolution / factor
	t.latDim = [3]int{m.VAE.LatentChannels, h, h}
	t.schedule, err = scheduler.NewSchedule(m.Scheduler)
	return err
}

// encodeCaptions tokenizes each exemplar's caption with the placeholder as
// one added token and records where it stands.
func (t *trainer) encodeCaptions(exemplars []fitted) error {
	id, err := t.tok.AddToken(t.trigger)
	if err != nil {
		return fmt.Errorf("placeholder %s: %w", t.trigger, err)
	}
	for _, e := range exemplars {
		ids, slots, err := captionSlots(t.tok, placeholder.Fill(e.template, t.trigger), id)
		if err != nil {
			return fmt.Errorf("caption of %s: %w", e.name, err)
		}
		t.ids, t.slots = append(t.ids, ids), append(t.slots, slots)
	}
	return nil
}

// captionSlots returns caption's padded ids [tokenizer.SDLength] and the
// slots of placeholder token id in them (sd.TokenSlots). A caption whose
// placeholder is missing, or cut off by the 77-token limit, is an error.
func captionSlots(tok *tokenizer.Tokenizer, caption string, id int) ([]int32, []float32, error) {
	seq, _, err := tok.EncodePaddedTruncated(caption, tokenizer.SDLength)
	if err != nil {
		return nil, nil, err
	}
	slots := sd.TokenSlots(seq, id)
	if !slices.Contains(slots, 1) {
		return nil, nil, fmt.Errorf("the placeholder is missing or falls beyond the %d-token limit of the caption", tokenizer.SDLength-2)
	}
	ids := make([]int32, len(seq))
	for i, v := range seq {
		ids[i] = int32(v)
	}
	return ids, slots, nil
}

// encodeAnchors encodes each exemplar, as it is and mirrored, with the VAE.
func (t *trainer) encodeAnchors(ctx context.Context, enc *latentEncoder, exemplars []fitted) error {
	for i, e := range exemplars {
		if err := ctx.Err(); err != nil {
			return err
		}
		t.onEvent(Event{Kind: EventPrepare, Message: "encoding exemplars", Done: i, Total: len(exemplars)})
		pair, err := enc.encodePair(e.image)
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.name, err)
		}
		t.anchors = append(t.anchors, pair)
	}
	return nil
}

// encodeNegatives gets ADI's action-different images of every exemplar
// (the user's, or synthesised) and encodes them with the VAE.
func (t *trainer) encodeNegatives(ctx context.Context, enc *latentEncoder, exemplars []fitted) error {
	o := t.opts
	action := strings.Trim(t.trigger, "<>")
	negImgs, err := prepareContrast(ctx, exemplars, action, o.Contrast, t.base.Model.SHA256, o.Fit, t.base.Img2Img, func(done, total int) {
		t.onEvent(Event{Kind: EventPrepare, Message: "synthesising contrast images", Done: done, Total: total})
	})
	if err != nil {
		return err
	}
	for _, imgs := range negImgs {
		var pairs [][2]latent
		for _, img := range imgs {
			pair, err := enc.encodePair(img)
			if err != nil {
				return fmt.Errorf("encode contrast image: %w", err)
			}
			pairs = append(pairs, pair)
		}
		t.negs = append(t.negs, pairs)
	}
	return nil
}

// fingerprint names what must match for a checkpoint to continue this run
// exactly: the model, the settings and the exemplars' pixels and captions.
func (t *trainer) fingerprint(exemplars []fitted) string {
	o := t.opts
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|%d|%d|%d|%d|%g|%g|%s|%d|%s|%v|%s|%s", t.base.Model.SHA256, o.Method, t.trigger, t.lv, t.width,
		o.BatchSize, o.GradAccum, o.Mask.Beta, o.AdamW.LR, o.Mask.Scope, o.Seed, o.Fit, o.NoFlip, o.InitWord, o.Caption)
	if o.AdamW.Lazy {
		fmt.Fprint(h, "|lazy")
	}
	if o.Init != nil {
		fmt.Fprintf(h, "|%v", o.Init.Vectors)
	}
	for _, e := range exemplars {
		fmt.Fprintf(h, "|%s|%s", e.hash, e.template)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// TokenEmbeddingRows returns the mean of the text encoder's token embedding
// rows ids (the initial value of a new identifier), [D].
func TokenEmbeddingRows(m *sd.Model, ids []int) ([]float32, error) {
	v := m.Ctx.InspectVariable("/text_encoder/text_model/embeddings/token_embedding", "weight")
	if v == nil {
		return nil, fmt.Errorf("model has no token embedding table")
	}
	t, err := v.Value()
	if err != nil {
		return nil, err
	}
	dims := t.Shape().Dimensions
	if len(dims) != 2 {
		return nil, fmt.Errorf("token embedding shaped %v", dims)
	}
	rows, d := dims[0], dims[1]
	out := make([]float32, d)
	err = tensors.ConstFlatData(t, func(flat []float32) {
		for _, id := range ids {
			if id < 0 || id >= rows {
				err = fmt.Errorf("token id %d outside the embedding table (%d rows)", id, rows)
				return
			}
			for j := range d {
				out[j] += flat[id*d+j]
			}
		}
	})
	if err != nil {
		return nil, err
	}
	for j := range out {
		out[j] /= float32(len(ids))
	}
	return out, nil
}
