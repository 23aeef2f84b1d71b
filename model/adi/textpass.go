package adi

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// A text pass apart. In one loss graph (lossGraph) the activations of the
// text encoder, which runs once per identifier vector (16 times per sample
// for P+ and ADI), are kept for the backward pass through the whole UNet
// forward and backward. Run apart, the same gradient takes three
// executions: the encodings (forward only), the UNet's loss and its
// gradient with respect to the encodings, and the text encoder again with
// that gradient as the upstream one (the chain rule, so the result is the
// joint graph's: TestTextPassApart). The text encoder's forward runs twice,
// its activations never live beside the UNet's.

// SetTextApart makes Compute run the text encoder apart from the UNet
// (true) or both in one execution (false, the default).
func (lf *LossFunc) SetTextApart(apart bool) {
	lf.mu.Lock()
	defer lf.mu.Unlock()
	lf.apart = apart
}

// encodingsGraph: inputs ids [B, T], slots [B, T], vectors [B, Lv, D];
// output the Lv text encodings stacked, [Lv, B, T, D], without gradient.
func encodingsGraph(ctx *context.Context, ids, slots, vectors *Node) *Node {
	return Stack(trainingEncodings(ctx, ids, slots, vectors), 0)
}

// unetLossGraph: inputs noisy, noise [B, C, h, w], timesteps [B], states
// [Lv, B, T, D]; outputs per-sample losses [B] and the gradient of their sum
// with respect to states, [Lv, B, T, D].
func unetLossGraph(ctx *context.Context, noisy, noise, timesteps, states *Node) (losses, dStates *Node) {
	lv := states.Shape().Dimensions[0]
	encodings := make([]*Node, lv)
	for l := range lv {
		encodings[l] = Squeeze(Slice(states, AxisElem(l)), 0)
	}
	losses = unetLosses(ctx, noisy, noise, timesteps, encodings)
	return losses, Gradient(ReduceAllSum(losses), states)[0]
}

// encodingsVJPGraph: inputs ids, slots, vectors (as encodingsGraph) and
// dStates [Lv, B, T, D], the loss's gradient with respect to the encodings;
// output the loss's gradient with respect to vectors, [B, Lv, D].
func encodingsVJPGraph(ctx *context.Context, ids, slots, vectors, dStates *Node) *Node {
	states := Stack(trainingEncodings(ctx, ids, slots, vectors), 0)
	return Gradient(ReduceAllSum(Mul(states, dStates)), vectors)[0]
}

// runApart is run with the text pass apart.
func (lf *LossFunc) runApart(b LossBatch, d int) (LossResult, error) {
	c, h, w := b.LatentDim[0], b.LatentDim[1], b.LatentDim[2]
	ids := tensors.FromFlatDataAndDimensions(b.IDs, b.B, b.T)
	slots := tensors.FromFlatDataAndDimensions(b.Slots, b.B, b.T)
	vectors := tensors.FromFlatDataAndDimensions(b.Vectors, b.B, b.Lv, d)
	enc, err := execFloats(lf.encExec, ids, slots, vectors)
	if err != nil {
		return LossResult{}, fmt.Errorf("text encodings: %w", err)
	}
	lv := len(enc[0]) / (b.B * b.T * d)
	outs, err := execFloats(lf.unetExec,
		tensors.FromFlatDataAndDimensions(b.Noisy, b.B, c, h, w),
		tensors.FromFlatDataAndDimensions(b.Noise, b.B, c, h, w),
		tensors.FromFlatDataAndDimensions(b.Timesteps, b.B),
		tensors.FromFlatDataAndDimensions(enc[0], lv, b.B, b.T, d),
	)
	if err != nil {
		return LossResult{}, fmt.Errorf("UNet loss and gradient: %w", err)
	}
	grads, err := execFloats(lf.vjpExe, ids, slots, vectors, tensors.FromFlatDataAndDimensions(outs[1], lv, b.B, b.T, d))
	if err != nil {
		return LossResult{}, fmt.Errorf("text encoder gradient: %w", err)
	}
	return LossResult{Losses: outs[0], Grads: grads[0]}, nil
}
