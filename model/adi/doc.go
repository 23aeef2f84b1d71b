// Package adi learns action identifiers: placeholder tokens such as
// `<handstand>` whose input embedding differs per UNet cross-attention layer
// (P+ style), trained with textual inversion (TI), P+ or the
// action-disentangled identifier method (ADI, Huang et al., CVPR 2024) on a
// frozen Stable Diffusion 1.x model. It holds the identifier type and files,
// the prompt syntax that substitutes identifiers per layer, exemplars (photos
// in memory; folders are read by store/actionfolder), triples and the
// gradient mask, the host AdamW optimiser and the trainer.
package adi
