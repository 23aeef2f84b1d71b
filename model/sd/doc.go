// Package sd implements the Stable Diffusion 1.x model family in GoMLX: the
// CLIP text encoder, the UNet2DConditionModel, the AutoencoderKL, weight
// loading from diffusers folders and single-file checkpoints, and a sampling
// pipeline with classifier-free guidance, seeds and image-to-image.
//
// # Weights and variables
//
// Load returns a Model whose context holds every weight as a float32
// variable scoped like diffusers names the tensor: the diffusers tensor
// "down_blocks.0.resnets.0.conv1.weight" of the UNet is the variable "weight"
// in the scope "/unet/down_blocks/0/resnets/0/conv1" (VariableKey writes it
// back as "unet/down_blocks.0.resnets.0.conv1.weight"). Weights keep the
// PyTorch layouts (linear [out, in], conv [out, in, kh, kw]); images and
// latents are NCHW. Single-file checkpoints are translated by rules
// (SingleFileName), and F16/BF16 files are converted to float32 on the host.
//
// # Graph builders
//
// All builders take the model's context first and read the configs from it
// (see SetConfigs): TokenEmbeddings and TextEncoder (or EncodeText), UNet,
// VAEEncode and VAEDecode. ModelVariables lists the variables a set of
// configs needs without allocating them.
//
// # Hooks for learned identifiers
//
// Textual inversion, P+ and ADI train input embeddings of a placeholder
// token while the model stays frozen (its variables are not trainable):
//
//   - IdentifierEncodings (clip.go) is the one hook: it puts identifier
//     vectors at the positions a slot mask marks (TokenSlots) and runs the
//     text encoder, once, or once per cross-attention layer in one batched
//     call. The pipeline and adi's trainer both use it.
//   - UNet takes one encoder state per cross-attention layer (16 for SD 1.x,
//     in forward order: down blocks, mid block, up blocks; the order of
//     fixtures/sd-tiny/reference.json "pplus_layer_order").
//   - Gradients flow from the UNet output to those vectors (graph.Gradient
//     with respect to the vector nodes); tests check the textual-inversion
//     and P+ losses and gradients against diffusers.
//
// Pipeline.Generate accepts Identifiers (a token and 1 or 16 vectors) to
// draw with learned tokens.
package sd
