package sd

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Text encoder variables live under this scope, named like Hugging Face's
// CLIPTextModel tensors ("text_model/embeddings/token_embedding/weight").
const textScope = "text_encoder"

func textConfig(ctx *context.Context) *TextConfig {
	return context.MustGetParam[*TextConfig](ctx, ParamTextConfig)
}

// TokenEmbeddings looks token ids [B, L] (any integer or float dtype holding
// integers) up in the CLIP token embedding table and returns [B, L, hidden].
// Ids past the table (added tokens) read its last row; IdentifierEncodings
// replaces their embeddings.
func TokenEmbeddings(ctx *context.Context, ids *Node) *Node {
	cfg := textConfig(ctx)
	ctx = ctx.In(textScope).In("text_model").In("embeddings").In("token_embedding")
	table := param(ctx, ids.Graph(), "weight", cfg.VocabSize, cfg.HiddenSize)
	if ids.DType() != dtypes.Int32 {
		ids = ConvertDType(ids, dtypes.Int32)
	}
	// Clamp so that a placeholder id past the table (such as the 49408 of an
	// added token) reads a valid row; its embedding is replaced afterwards.
	ids = ClipScalar(ids, 0, float64(cfg.VocabSize-1))
	return Gather(table, InsertAxes(ids, -1))
}

// IdentifierEncodings is the one way learned identifier vectors (textual
// inversion, P+, ADI) enter the text encoder, for generation and training
// alike. ids [B, L] are token ids; slots [K, B, L] are 1 where identifier k's
// vector replaces the token embedding and 0 elsewhere (data, so one graph
// serves every caption; see TokenSlots); vectors [K, B, N, D] are identifier
// k's vectors for sequence b: N = 1 gives one encoding that every
// cross-attention layer shares, N = the UNet's layer count gives encoding n
// for layer n. It returns the N encodings [B, L, D] after clipSkip (see
// TextEncoderClipSkip), computed as one batch of N*B sequences. Gradients
// flow to vectors, not to the replaced embedding rows.
func IdentifierEncodings(ctx *context.Context, ids, slots, vectors *Node, clipSkip int) []*Node {
	sd, vd, id := slots.Shape().Dimensions, vectors.Shape().Dimensions, ids.Shape().Dimensions
	if len(id) != 2 || len(sd) != 3 || len(vd) != 4 || sd[0] != vd[0] || sd[1] != id[0] || vd[1] != id[0] || sd[2] != id[1] {
		panic(fmt.Errorf("IdentifierEncodings: ids %s, slots %s, vectors %s; want [B, L], [K, B, L], [K, B, N, D]",
			ids.Shape(), slots.Shape(), vectors.Shape()))
	}
	k, b, l, n, d := sd[0], sd[1], sd[2], vd[2], vd[3]
	slot := ConvertDType(slots, dtypes.Float32)
	keep := OneMinus(ReduceSum(slot, 0)) // [B, L]
	embeds := Mul(TokenEmbeddings(ctx, ids), InsertAxes(keep, -1))
	all := BroadcastToDims(InsertAxes(embeds, 0), n, b, l, d) // row [i, j]: sequence j for layer i
	for i := range k {
		si := Squeeze(Slice(slot, AxisElem(i)), 0)    // [B, L]
		vi := Squeeze(Slice(vectors, AxisElem(i)), 0) // [B, N, D]
		all = Add(all, Mul(InsertAxes(si, 0, -1), InsertAxes(TransposeAllDims(vi, 1, 0, 2), 2)))
	}
	enc := Reshape(TextEncoderClipSkip(ctx, Reshape(all, n*b, l, d), clipSkip), n, b, l, d)
	out := make([]*Node, n)
	for j := range out {
		out[j] = Squeeze(Slice(enc, AxisElem(j)), 0)
	}
	return out
}

// TokenSlots returns the slot mask of tokenID in the token sequence ids: [len(ids)],
// 1 where it stands and 0 elsewhere, the slots IdentifierEncodings takes.
func TokenSlots(ids []int, tokenID int) []float32 {
	out := make([]float32, len(ids))
	for i, v := range ids {
		if v == tokenID {
			out[i] = 1
		}
	}
	return out
}

// TextEncoder runs the CLIP text transformer on input embeddings [B, L, hidden]
// (token embeddings, without positions; see TokenEmbeddings) and returns the
// last hidden state after the final layer norm, [B, L, hidden]. Position ids
// are 0..L-1 and the attention is causal with no padding mask, as SD 1.x uses
// it.
func TextEncoder(ctx *context.Context, inputEmbeds *Node) *Node {
	return TextEncoderClipSkip(ctx, inputEmbeds, 1)
}

// TextEncoderClipSkip is TextEncoder with AUTOMATIC1111's "Clip skip": it
// stops clipSkip-1 layers before the last and applies the final layer norm
// to that layer's output (1 is the full encoder; 2 is what many SD 1.x
// fine-tunes expect). clipSkip must be in 1..num_hidden_layers.
func TextEncoderClipSkip(ctx *context.Context, inputEmbeds *Node, clipSkip int) *Node {
	cfg := textConfig(ctx)
	if clipSkip < 1 || clipSkip > cfg.NumHiddenLayers {
		panic(fmt.Errorf("TextEncoder: clip skip %d outside 1..%d", clipSkip, cfg.NumHiddenLayers))
	}
	g := inputEmbeds.Graph()
	dims := inputEmbeds.Shape().Dimensions
	if len(dims) != 3 || dims[2] != cfg.HiddenSize || dims[1] > cfg.MaxPositionEmbeddings {
		panic(fmt.Errorf("TextEncoder: input embeddings shaped %s, want [batch, <=%d, %d]",
			inputEmbeds.Shape(), cfg.MaxPositionEmbeddings, cfg.HiddenSize))
	}
	l, d := dims[1], cfg.HiddenSize
	tctx := ctx.In(textScope).In("text_model")
	pos := param(tctx.In("embeddings").In("position_embedding"), g, "weight", cfg.MaxPositionEmbeddings, d)
	x := Add(inputEmbeds, InsertAxes(Slice(pos, AxisRange(0, l)), 0))

	// Causal mask: a large negative value above the diagonal.
	rows := Iota(g, shapes.Make(dtypes.Int32, l, l), 0)
	cols := Iota(g, shapes.Make(dtypes.Int32, l, l), 1)
	mask := Where(GreaterThan(cols, rows), Const(g, float32(-1e9)), Const(g, float32(0)))

	for i := range cfg.NumHiddenLayers - (clipSkip - 1) {
		lctx := tctx.In("encoder").In("layers").In(fmt.Sprint(i))
		h := layerNorm(lctx.In("layer_norm1"), x, d, cfg.LayerNormEps)
		actx := lctx.In("self_attn")
		q := linear(actx.In("q_proj"), h, d, d, true)
		k := linear(actx.In("k_proj"), h, d, d, true)
		v := linear(actx.In("v_proj"), h, d, d, true)
		h = multiHeadAttention(q, k, v, cfg.NumAttentionHeads, mask)
		x = Add(x, linear(actx.In("out_proj"), h, d, d, true))

		h = layerNorm(lctx.In("layer_norm2"), x, d, cfg.LayerNormEps)
		h = linear(lctx.In("mlp").In("fc1"), h, d, cfg.IntermediateSize, true)
		if cfg.HiddenAct == "quick_gelu" {
			h = quickGELU(h)
		} else {
			h = geluExact(h)
		}
		x = Add(x, linear(lctx.In("mlp").In("fc2"), h, cfg.IntermediateSize, d, true))
	}
	return layerNorm(tctx.In("final_layer_norm"), x, d, cfg.LayerNormEps)
}

// EncodeText is TextEncoder(ctx, TokenEmbeddings(ctx, ids)): ids [B, L] to
// hidden states [B, L, hidden].
func EncodeText(ctx *context.Context, ids *Node) *Node {
	return TextEncoder(ctx, TokenEmbeddings(ctx, ids))
}
