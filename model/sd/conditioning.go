package sd

import (
	"fmt"
	"slices"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
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

// encodePrompt returns the text encoder states of prompt, [1, L, D] each:
// one state, or one per cross-attention layer when an identifier with
// per-layer vectors appears in the prompt.
func (p *Pipeline) encodePrompt(prompt string, ids []Identifier, clipSkip int) ([]any, error) {
	tok := p.baseTokenizer
	layers := p.Model.UNet.NumCrossAttentionLayers()
	hidden := p.Model.Text.HiddenSize
	var used []Identifier
	var tokenIDs []int
	if len(ids) > 0 {
		var err error
		if tok, err = loadTokenizer(p.tokenizerDir); err != nil {
			return nil, err
		}
		for _, id := range ids {
			if len(id.Vectors) != 1 && len(id.Vectors) != layers {
				return nil, fmt.Errorf("identifier %q has %d vectors, want 1 or %d", id.Token, len(id.Vectors), layers)
			}
			for _, v := range id.Vectors {
				if len(v) != hidden {
					return nil, fmt.Errorf("identifier %q: vector of %d values, want %d", id.Token, len(v), hidden)
				}
			}
			tid, err := tok.AddToken(id.Token)
			if err != nil {
				return nil, fmt.Errorf("identifier %q: %w", id.Token, err)
			}
			if strings.Contains(prompt, id.Token) {
				used = append(used, id)
				tokenIDs = append(tokenIDs, tid)
			}
		}
	}
	seq, err := tok.EncodePadded(prompt, p.Model.Text.MaxPositionEmbeddings)
	if err != nil {
		return nil, err
	}
	ids32 := make([]int32, len(seq))
	for i, v := range seq {
		ids32[i] = int32(v)
	}
	nOut := 1
	for _, id := range used {
		if len(id.Vectors) > 1 {
			nOut = layers
		}
	}
	key := fmt.Sprint(tokenIDs, nOut, clipSkip)
	exec, ok := p.textExecs[key]
	if !ok {
		exec, err = context.NewExec(p.Backend, p.Model.Ctx, func(ctx *context.Context, inputs []*Node) *Node {
			return promptStates(ctx, inputs[0], tokenIDs, inputs[1:], nOut, clipSkip)
		})
		if err != nil {
			return nil, err
		}
		p.textExecs[key] = exec
	}
	args := []any{tensors.FromFlatDataAndDimensions(ids32, 1, len(ids32))}
	for _, id := range used {
		flat := slices.Concat(id.Vectors...)
		args = append(args, tensors.FromFlatDataAndDimensions(flat, len(id.Vectors), hidden))
	}
	out, err := exec.Exec(args...)
	if err != nil {
		return nil, err
	}
	enc := tensors.MustCopyFlatData[float32](out[0])
	l := len(seq)
	states := make([]any, nOut)
	for i := range nOut {
		states[i] = tensors.FromFlatDataAndDimensions(enc[i*l*hidden:(i+1)*l*hidden], 1, l, hidden)
	}
	return states, nil
}

// promptStates encodes ids [1, L] with each tokenIDs[k] replaced by
// vectors[k] ([1, D] or [layers, D]); it returns [n, L, D]: one encoding per
// layer when n > 1.
func promptStates(ctx *context.Context, ids *Node, tokenIDs []int, vectors []*Node, n, clipSkip int) *Node {
	l := ids.Shape().Dimensions[1]
	embeds := TokenEmbeddings(ctx, ids)
	d := embeds.Shape().Dimensions[2]
	embeds = BroadcastToDims(embeds, n, l, d)
	tiled := BroadcastToDims(ids, n, l)
	for k, id := range tokenIDs {
		v := vectors[k]
		if v.Shape().Dimensions[0] != n {
			v = BroadcastToDims(v, n, d)
		}
		embeds = ReplaceToken(embeds, tiled, id, v)
	}
	return TextEncoderClipSkip(ctx, embeds, clipSkip)
}
