package sd

import (
	"fmt"
	"slices"

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
// per-layer vectors appears in the prompt. Identifier tokens are added to a
// clone of the model's tokenizer, so the model's own stays as loaded.
func (p *Pipeline) encodePrompt(prompt string, ids []Identifier, clipSkip int) ([]any, error) {
	tok := p.Model.Tokenizer
	layers := p.Model.UNet.NumCrossAttentionLayers()
	hidden := p.Model.Text.HiddenSize
	tokenIDs := make([]int, len(ids))
	if len(ids) > 0 {
		tok = tok.Clone()
		for i, id := range ids {
			if len(id.Vectors) != 1 && len(id.Vectors) != layers {
				return nil, fmt.Errorf("identifier %q has %d vectors, want 1 or %d", id.Token, len(id.Vectors), layers)
			}
			for _, v := range id.Vectors {
				if len(v) != hidden {
					return nil, fmt.Errorf("identifier %q: vector of %d values, want %d", id.Token, len(v), hidden)
				}
			}
			var err error
			if tokenIDs[i], err = tok.AddToken(id.Token); err != nil {
				return nil, fmt.Errorf("identifier %q: %w", id.Token, err)
			}
		}
	}
	seq, err := tok.EncodePadded(prompt, p.Model.Text.MaxPositionEmbeddings)
	if err != nil {
		return nil, err
	}
	l := len(seq)
	ids32 := make([]int32, l)
	for i, v := range seq {
		ids32[i] = int32(v)
	}
	// The identifiers the (possibly truncated) prompt holds, with their slots.
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
	states := make([]any, nOut)
	for i := range nOut {
		states[i] = tensors.FromFlatDataAndDimensions(enc[i*l*hidden:(i+1)*l*hidden], 1, l, hidden)
	}
	return states, nil
}
