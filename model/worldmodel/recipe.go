package worldmodel

import "kata/model/sdtrain"

// PreviewPrompts are drawn (8 seeds each) with every unet-stage checkpoint.
var PreviewPrompts = []string{
	"a blue robot waving on a dotted background",
	"a drawing of a red cat lying down, plain beige background",
}

// Recipe returns the training options of one stage of Kata World, with its
// checkpoint folder and seed left to the caller (docs/WORLD-MODEL.md gives
// the measured step times behind the step counts):
//
//   - vae: 1500 steps of batch 8, AdamW at 1e-3 with 100 warmup steps and
//     cosine decay, KL weight 1e-6;
//   - unet: 8000 steps of batch 16, AdamW at 5e-4 with 300 warmup steps and
//     cosine decay to 0, P2 loss weighting (sdtrain.WeightingP2) from the
//     first step, 10% caption dropout (batch 16, not 32: at a fixed number
//     of images more optimiser steps train a small model further; P2: in
//     the A/B of docs/WORLD-MODEL.md it doubled the captions' gain over the
//     plain loss at equal steps, and the first recipe's plain 5000 steps
//     left the model drawing blobs; 8000 steps: what fits the 3-hour budget
//     beside the vae stage, with a margin for loaded cores, at the 1.1-1.7
//     steps/s of BenchmarkTrain's shards-2 on idle cores,
//     docs/WORLD-MODEL.md);
//
// both with weight decay 1e-2, gradient clipping at norm 1, an EMA of
// decay 0.999, and each batch split into 2 concurrent graph executions
// (sdtrain.Options.Shards: on the pure-Go backend one execution of this
// small model keeps about 1.6 of the 2 cores busy, two keep 1.9; callers
// on an accelerator set 1). The unet stage previews PreviewPrompts at every checkpoint.
func Recipe(stage sdtrain.Stage) sdtrain.Options {
	o := sdtrain.Options{Stage: stage, Cosine: true, WeightDecay: 1e-2, ClipNorm: 1, EMADecay: 0.999, Shards: 2}
	switch stage {
	case sdtrain.StageVAE:
		o.Steps, o.Batch, o.LR, o.Warmup, o.KLWeight = 1500, 8, 1e-3, 100, 1e-6
	case sdtrain.StageUNet:
		o.Steps, o.Batch, o.LR, o.Warmup, o.CaptionDrop = 8000, 16, 5e-4, 300, 0.1
		o.Weighting = sdtrain.WeightingP2
		o.PreviewPrompts = PreviewPrompts
	}
	return o
}
