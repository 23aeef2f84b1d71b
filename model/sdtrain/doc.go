// Package sdtrain trains the weights of a Stable Diffusion 1.x topology model
// (CLIP text encoder, UNet2DConditionModel, AutoencoderKL, as model/sd builds
// them) from scratch on a stream of captioned images, and exports the result
// as a diffusers folder that model/sd's loader reads.
//
// Training runs in two stages, as latent diffusion does:
//
//   - StageVAE trains the autoencoder alone on reconstruction (L1 + L2) with
//     a small KL term, then measures the standard deviation of its latents;
//     SD's scaling factor is one over it.
//   - StageUNet trains the text encoder and the UNet jointly on epsilon
//     prediction with the VAE frozen, dropping 10% of captions so that
//     classifier-free guidance works.
//
// Gradients come from graph.Gradient on the model's own graph builders; the
// optimiser (AdamW, model/adi's host implementation), learning-rate warmup
// and cosine decay, gradient clipping by global norm and the EMA of weights
// run on the host over flat float32 vectors, so that a checkpoint (weights,
// optimiser moments, EMA, RNG state, step, loss history) is plain data and a
// resumed run continues bit for bit.
//
// Data comes from a Source: anything that draws a captioned image from a
// seeded math/rand/v2 generator (the Kata World renderer in production,
// Shapes in tests).
package sdtrain
