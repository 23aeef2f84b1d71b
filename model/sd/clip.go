package sd

import (
	"fmt"
	"slices"

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
// Ids outside the table are an error of the caller (ids of added tokens must
// be replaced, see ReplaceEmbeddings).
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

// ReplaceToken returns embeds [B, L, D] with every position whose id in ids
// [B, L] equals tokenID holding vector instead: [D] for all sequences, or
// [B, D] for one vector per sequence. It is how learned identifier vectors
// (textual inversion, P+, ADI) enter the text encoder: the gradient flows to
// vector and not to the replaced rows.
func ReplaceToken(embeds, ids *Node, tokenID int, vector *Node) *Node {
	dims := embeds.Shape().Dimensions
	b, d := dims[0], dims[2]
	if vector.Rank() == 1 {
		vector = BroadcastToDims(InsertAxes(vector, 0), b, d)
	}
	if vd := vector.Shape().Dimensions; len(vd) != 2 || vd[0] != b || vd[1] != d {
		panic(fmt.Errorf("ReplaceToken: vector shaped %s, want [%d] or [%d, %d]", vector.Shape(), d, b, d))
	}
	if !slices.Equal(ids.Shape().Dimensions, dims[:2]) {
		panic(fmt.Errorf("ReplaceToken: ids shaped %s for embeddings %s", ids.Shape(), embeds.Shape()))
	}
	mask := ConvertDType(Equal(ConvertDType(ids, dtypes.Int32), Const(ids.Graph(), int32(tokenID))), embeds.DType())
	mask = InsertAxes(mask, -1)
	return Add(Mul(embeds, OneMinus(mask)), Mul(mask, InsertAxes(vector, 1)))
}

// LayerEncodings is the P+ / ADI text path: for ids [B, L] holding the
// placeholder tokenID and one vector per cross-attention layer (vectors
// [layers, D]), it runs the text encoder once per layer with that layer's
// vector in place of the placeholder and returns the per-layer encodings, each
// [B, L, D], in the order UNet takes them. One batched text encoder call does
// all layers.
func LayerEncodings(ctx *context.Context, ids *Node, tokenID int, vectors *Node) []*Node {
	vd := vectors.Shape().Dimensions
	if len(vd) != 2 {
		panic(fmt.Errorf("LayerEncodings: vectors shaped %s, want [layers, hidden]", vectors.Shape()))
	}
	n, d := vd[0], vd[1]
	b, l := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	embeds := TokenEmbeddings(ctx, ids)
	// Row i*b+j is sequence j with the vector of layer i.
	embeds = Reshape(BroadcastToDims(InsertAxes(embeds, 0), n, b, l, d), n*b, l, d)
	tiledIDs := Reshape(BroadcastToDims(InsertAxes(ids, 0), n, b, l), n*b, l)
	perRow := Reshape(BroadcastToDims(InsertAxes(vectors, 1), n, b, d), n*b, d)
	enc := TextEncoder(ctx, ReplaceToken(embeds, tiledIDs, tokenID, perRow))
	out := make([]*Node, n)
	for i := range out {
		out[i] = Slice(enc, AxisRange(i*b, (i+1)*b))
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
