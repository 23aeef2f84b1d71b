// Package worldmodel holds Kata World, the built-in model: its architecture
// (Stable Diffusion 1.x topology at small widths, so that model/sd's loader,
// pipeline and samplers and model/adi's trainer serve it unchanged), its
// training recipe, and the Source that streams renders of the procedural
// world into model/sdtrain.
package worldmodel

import (
	"slices"

	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/sdtrain"
)

// ImageSize is the size of Kata World's images in pixels.
const ImageSize = 64

// Widths are the free sizes of the architecture.
type Widths struct {
	TextHidden, TextLayers int   // CLIP text encoder width and depth (heads of 32 dims each)
	UNet                   []int // UNet block_out_channels, 4 blocks as SD 1.x
	VAE                    []int // VAE block_out_channels: 3 blocks is factor 4, 4 is factor 8
}

// DefaultWidths are Kata World's sizes, chosen in docs/WORLD-MODEL.md from
// step times measured with BenchmarkStep: a 64-wide, 4-layer text encoder,
// UNet channels 32-64-128-128 on 16x16 latents, and a factor-4 VAE with
// channels 32-64-64.
func DefaultWidths() Widths {
	return Widths{TextHidden: 64, TextLayers: 4, UNet: []int{32, 64, 128, 128}, VAE: []int{32, 64, 64}}
}

// NewArchitecture returns the SD 1.x topology at widths w for ImageSize
// images: the real CLIP tokenizer's 49408-token vocabulary and 77
// positions, a UNet with SD 1.x's block types (3 CrossAttnDown blocks of 2
// layers, mid, 3 CrossAttnUp blocks of 3 layers: 16 cross-attention layers)
// and 8 norm groups, an AutoencoderKL with 4 latent channels and one resnet
// per block, and SD 1.x's DDIM noise schedule.
func NewArchitecture(w Widths) sdtrain.Architecture {
	text := sd.SD15TextConfig()
	text.HiddenSize, text.IntermediateSize = w.TextHidden, 4*w.TextHidden
	text.NumHiddenLayers, text.NumAttentionHeads = w.TextLayers, max(1, w.TextHidden/32)
	text.HiddenAct = "quick_gelu"

	vae := sd.SD15VAEConfig()
	vae.BlockOutChannels = slices.Clone(w.VAE)
	vae.DownBlockTypes = slices.Repeat([]string{"DownEncoderBlock2D"}, len(w.VAE))
	vae.UpBlockTypes = slices.Repeat([]string{"UpDecoderBlock2D"}, len(w.VAE))
	vae.NormNumGroups, vae.LayersPerBlock = 8, 1
	factor := 1 << (len(w.VAE) - 1)

	unet := sd.SD15UNetConfig()
	unet.BlockOutChannels = slices.Clone(w.UNet)
	unet.NormNumGroups = 8
	unet.CrossAttentionDim = w.TextHidden
	unet.SampleSize = ImageSize / factor
	unet.AttentionHeads = make([]int, len(w.UNet))
	for i, c := range w.UNet {
		unet.AttentionHeads[i] = max(1, c/32) // 32-dim heads
	}
	return sdtrain.Architecture{Text: text, UNet: unet, VAE: vae, Scheduler: scheduler.DefaultConfig()}
}

// Architecture is NewArchitecture(DefaultWidths()).
func Architecture() sdtrain.Architecture { return NewArchitecture(DefaultWidths()) }
