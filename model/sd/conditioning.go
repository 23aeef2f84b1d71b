package sd

import (
	"fmt"
	"slices"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/prompt"
	"kata/model/tokenizer"
)

// Identifier is a learned token: the prompt word Token stands for Vectors,
// either one input embedding (textual inversion; one row) or one per
// cross-attention layer (P+ / ADI; Model.UNet.NumCrossAttentionLayers rows),
// each of the text encoder's hidden size.
type Identifier struct {
	Token   string
	Vectors [][]float32
}

// pairStates concatenates unconditional and conditional states on the batch
// axis, expanding a shared state to the other's per-layer count.
func pairStates(uncond, cond []any) []any {
	n := max(len(uncond), len(cond))
	out := make([]any, n)
	for i := range n {
		u := uncond[min(i, len(uncond)-1)].(*tensors.Tensor)
		c := cond[min(i, len(cond)-1)].(*tensors.Tensor)
		ud, cd := tensors.MustCopyFlatData[float32](u), tensors.MustCopyFlatData[float32](c)
		dims := slices.Clone(u.Shape().Dimensions)
		dims[0] = 2
		out[i] = tensors.FromFlatDataAndDimensions(append(ud, cd...), dims...)
	}
	return out
}

// encodePrompts returns the text encoder states of the prompt and, when
// guided, of the negative prompt, [1, L, D] each: one state, or one per
// cross-attention layer when an identifier with per-layer vectors appears.
// Both are read in AUTOMATIC1111's attention syntax and cut into chunks of
// 75 tokens whose encodings are concatenated (L = 77 per chunk); the two may
// differ in length (Generate then runs them as separate UNet passes).
// Identifier tokens are added to a clone of the model's tokenizer.
func (p *Pipeline) encodePrompts(text, negative string, ids []Identifier, clipSkip int, guided bool) (cond, uncond []any, err error) {
	tok, tokenIDs, err := p.identifierTokenizer(ids)
	if err != nil {
		return nil, nil, err
	}
	opt := p.chunkOptions(tok)
	condChunks, err := promptChunks(text, tok, opt)
	if err != nil {
		return nil, nil, err // "prompt: ..."
	}
	var uncondChunks []prompt.Chunk
	if guided {
		if uncondChunks, err = promptChunks(negative, tok, opt); err != nil {
			return nil, nil, fmt.Errorf("negative %w", err) // "negative prompt: ..."
		}
	}
	if cond, err = p.encodeChunks(condChunks, ids, tokenIDs, clipSkip); err != nil {
		return nil, nil, fmt.Errorf("prompt: %w", err)
	}
	if guided {
		if uncond, err = p.encodeChunks(uncondChunks, ids, tokenIDs, clipSkip); err != nil {
			return nil, nil, fmt.Errorf("negative prompt: %w", err)
		}
	}
	return cond, uncond, nil
}

// identifierTokenizer checks the identifiers' vectors and returns the
// model's tokenizer, or a clone of it with every identifier token added and
// the ids of those tokens (the model's own tokenizer stays as loaded).
func (p *Pipeline) identifierTokenizer(ids []Identifier) (*tokenizer.Tokenizer, []int, error) {
	tok := p.Model.Tokenizer
	if len(ids) == 0 {
		return tok, nil, nil
	}
	layers := p.Model.UNet.NumCrossAttentionLayers()
	hidden := p.Model.Text.HiddenSize
	tokenIDs := make([]int, len(ids))
	tok = tok.Clone()
	for i, id := range ids {
		if len(id.Vectors) != 1 && len(id.Vectors) != layers {
			return nil, nil, fmt.Errorf("identifier %q has %d vectors, want 1 or %d", id.Token, len(id.Vectors), layers)
		}
		for _, v := range id.Vectors {
			if len(v) != hidden {
				return nil, nil, fmt.Errorf("identifier %q: vector of %d values, want %d", id.Token, len(v), hidden)
			}
		}
		var err error
		if tokenIDs[i], err = tok.AddToken(id.Token); err != nil {
			return nil, nil, fmt.Errorf("identifier %q: %w", id.Token, err)
		}
	}
	return tok, tokenIDs, nil
}

// chunkOptions is the chunking rule for tok and the model's text encoder:
// chunks of MaxPositionEmbeddings-2 tokens (75 for SD 1.x) framed by BOS
// and EOS, breaking after a comma as AUTOMATIC1111 does.
func (p *Pipeline) chunkOptions(tok *tokenizer.Tokenizer) prompt.ChunkOptions {
	comma := -1
	if c := tok.Encode(","); len(c) == 1 {
		comma = c[0]
	}
	return prompt.ChunkOptions{BOS: tok.BOS(), EOS: tok.EOS(), Comma: comma, Length: p.Model.Text.MaxPositionEmbeddings - 2}
}

// promptChunks reads text in AUTOMATIC1111's attention syntax ("(word)",
// "[word]", "(word:1.3)", escapes, BREAK) and cuts its tokens into the
// chunks the text encoder takes, each token with its weight. Extra-network
// tags ("<lora:...>") must have been removed by the caller.
func promptChunks(text string, tok *tokenizer.Tokenizer, opt prompt.ChunkOptions) ([]prompt.Chunk, error) {
	spans, err := prompt.Parse(text)
	if err != nil {
		return nil, err
	}
	return prompt.SplitChunks(prompt.Segments(spans, tok.Encode), opt)
}

// encodeChunks encodes every chunk (see encodeChunk), applies each chunk's
// emphasis to its encodings (scale by the weights, restore the mean, as
// AUTOMATIC1111 does; skipped for a chunk whose weights are all 1) and
// concatenates the chunks along the sequence axis: it returns one state, or
// one per cross-attention layer when a per-layer identifier appears, each
// [1, len(chunks)*L, D].
func (p *Pipeline) encodeChunks(chunks []prompt.Chunk, ids []Identifier, tokenIDs []int, clipSkip int) ([]any, error) {
	hidden := p.Model.Text.HiddenSize
	encs := make([][][]float32, len(chunks))
	nOut := 1
	for c, chunk := range chunks {
		enc, err := p.encodeChunk(chunk.IDs, ids, tokenIDs, clipSkip)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(chunk.Weights, func(w float64) bool { return w != 1 }) {
			for _, z := range enc {
				if err := prompt.Emphasize(z, hidden, chunk.Weights, true); err != nil {
					return nil, err
				}
			}
		}
		encs[c] = enc
		nOut = max(nOut, len(enc))
	}
	l := 0
	for _, chunk := range chunks {
		l += len(chunk.IDs)
	}
	states := make([]any, nOut)
	for n := range nOut {
		if len(encs) == 1 {
			states[n] = tensors.FromFlatDataAndDimensions(encs[0][min(n, len(encs[0])-1)], 1, l, hidden)
			continue
		}
		data := make([]float32, 0, l*hidden)
		for _, enc := range encs {
			data = append(data, enc[min(n, len(enc)-1)]...)
		}
		states[n] = tensors.FromFlatDataAndDimensions(data, 1, l, hidden)
	}
	return states, nil
}

// encodeChunk returns the text encoder's encodings of one token sequence
// seq (BOS ... EOS, at most MaxPositionEmbeddings ids), [L, D] flat each:
// one, or one per cross-attention layer when an identifier with per-layer
// vectors appears in seq. ids and tokenIDs are the identifiers and their
// token ids (identifierTokenizer).
func (p *Pipeline) encodeChunk(seq []int, ids []Identifier, tokenIDs []int, clipSkip int) ([][]float32, error) {
	layers := p.Model.UNet.NumCrossAttentionLayers()
	hidden := p.Model.Text.HiddenSize
	l := len(seq)
	ids32 := make([]int32, l)
	for i, v := range seq {
		ids32[i] = int32(v)
	}
	// The identifiers seq holds, with their slots.
	var used []Identifier
	var slots []float32
	nOut := 1
	for i, id := range ids {
		s := TokenSlots(seq, tokenIDs[i])
		if !slices.Contains(s, 1) {
			continue
		}
		used = append(used, id)
		slots = append(slots, s...)
		if len(id.Vectors) > 1 {
			nOut = layers
		}
	}
	args := []any{tensors.FromFlatDataAndDimensions(ids32, 1, l)}
	if len(used) > 0 {
		var vectors []float32
		for _, id := range used {
			for n := range nOut {
				vectors = append(vectors, id.Vectors[min(n, len(id.Vectors)-1)]...)
			}
		}
		args = append(args, tensors.FromFlatDataAndDimensions(slots, len(used), 1, l),
			tensors.FromFlatDataAndDimensions(vectors, len(used), 1, nOut, hidden))
	}
	key := fmt.Sprint(len(used) > 0, nOut, clipSkip)
	exec, ok := p.textExecs[key]
	if !ok {
		var err error
		exec, err = context.NewExec(p.Backend, p.Model.Ctx, func(ctx *context.Context, inputs []*Node) *Node {
			if len(inputs) == 1 {
				return TextEncoderClipSkip(ctx, TokenEmbeddings(ctx, inputs[0]), clipSkip)
			}
			return Concatenate(IdentifierEncodings(ctx, inputs[0], inputs[1], inputs[2], clipSkip), 0)
		})
		if err != nil {
			return nil, err
		}
		p.textExecs[key] = exec
	}
	out, err := exec.Exec(args...)
	if err != nil {
		return nil, err
	}
	enc := tensors.MustCopyFlatData[float32](out[0])
	states := make([][]float32, nOut)
	for i := range nOut {
		states[i] = enc[i*l*hidden : (i+1)*l*hidden]
	}
	return states, nil
}
