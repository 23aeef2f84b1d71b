package sd

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// errNotSD marks single files whose layout is not an SD 1.x checkpoint.
var errNotSD = errors.New("not a Stable Diffusion 1.x checkpoint")

// InferSingleFileConfigs derives the configs of a single-file checkpoint
// from its tensor names and shapes; what shapes cannot tell (norm groups,
// head counts) takes the SD 1.x values.
func InferSingleFileConfigs(tensorShapes map[string][]int) (*TextConfig, *UNetConfig, *VAEConfig, error) {
	names := make([]string, 0, len(tensorShapes))
	for n := range tensorShapes {
		names = append(names, n)
	}
	sort.Strings(names)
	shape := func(name string) []int { return tensorShapes[name] }
	// has reports whether some tensor name starts with prefix.
	has := func(prefix string) bool {
		i := sort.SearchStrings(names, prefix)
		return i < len(names) && strings.HasPrefix(names[i], prefix)
	}
	count := func(prefix string) int {
		n := 0
		for n < 1000 && has(fmt.Sprintf("%s%d.", prefix, n)) {
			n++
		}
		return n
	}
	need := func(name string, rank int) ([]int, error) {
		s := shape(name)
		if len(s) != rank {
			return nil, fmt.Errorf("%w: tensor %s missing or not of rank %d", errNotSD, name, rank)
		}
		return s, nil
	}

	// Text encoder.
	tp := singleTextPrefix
	if !has(tp + "text_model.") {
		tp = singleTextPrefix
	} else {
		tp += "text_model."
	}
	tok, err := need(tp+"embeddings.token_embedding.weight", 2)
	if err != nil {
		return nil, nil, nil, err
	}
	pos, err := need(tp+"embeddings.position_embedding.weight", 2)
	if err != nil {
		return nil, nil, nil, err
	}
	fc1, err := need(tp+"encoder.layers.0.mlp.fc1.weight", 2)
	if err != nil {
		return nil, nil, nil, err
	}
	text := SD15TextConfig()
	text.VocabSize, text.HiddenSize = tok[0], tok[1]
	text.MaxPositionEmbeddings = pos[0]
	text.IntermediateSize = fc1[0]
	text.NumHiddenLayers = count(tp + "encoder.layers.")
	text.NumAttentionHeads = max(1, text.HiddenSize/64)
	if err := text.validate(); err != nil {
		return nil, nil, nil, err
	}

	// UNet.
	up := singleUNetPrefix
	convIn, err := need(up+"input_blocks.0.0.weight", 4)
	if err != nil {
		return nil, nil, nil, err
	}
	convOut, err := need(up+"out.2.weight", 4)
	if err != nil {
		return nil, nil, nil, err
	}
	unet := SD15UNetConfig()
	unet.InChannels, unet.OutChannels = convIn[1], convOut[0]
	unet.ConvInKernel, unet.ConvOutKernel = convIn[2], convOut[2]
	nInput := count(up + "input_blocks.")
	nb := 1
	for i := range nInput {
		if shape(fmt.Sprintf("%sinput_blocks.%d.0.op.weight", up, i)) != nil {
			nb++
		}
	}
	if nInput < 2 || nInput%nb != 0 {
		return nil, nil, nil, fmt.Errorf("%w: %d UNet input blocks do not form %d levels", errNotSD, nInput, nb)
	}
	unet.LayersPerBlock = nInput/nb - 1
	unet.BlockOutChannels = make([]int, nb)
	unet.DownBlockTypes = make([]string, nb)
	unet.UpBlockTypes = make([]string, nb)
	unet.AttentionHeads = slices.Repeat([]int{8}, nb)
	per := unet.LayersPerBlock + 1
	for b := range nb {
		first := 1 + b*per
		s, err := need(fmt.Sprintf("%sinput_blocks.%d.0.out_layers.3.weight", up, first), 4)
		if err != nil {
			return nil, nil, nil, err
		}
		unet.BlockOutChannels[b] = s[0]
		unet.DownBlockTypes[b] = "DownBlock2D"
		if has(fmt.Sprintf("%sinput_blocks.%d.1.", up, first)) {
			unet.DownBlockTypes[b] = "CrossAttnDownBlock2D"
		}
		unet.UpBlockTypes[b] = "UpBlock2D"
		if has(fmt.Sprintf("%soutput_blocks.%d.1.transformer_blocks.", up, b*per)) {
			unet.UpBlockTypes[b] = "CrossAttnUpBlock2D"
		}
	}
	k, err := need(up+"middle_block.1.transformer_blocks.0.attn2.to_k.weight", 2)
	if err != nil {
		return nil, nil, nil, err
	}
	unet.CrossAttentionDim = k[1]
	unet.UseLinearProjection = len(shape(up+"middle_block.1.proj_in.weight")) == 2
	unet.TransformerLayers = count(up + "middle_block.1.transformer_blocks.")
	if err := unet.validate(); err != nil {
		return nil, nil, nil, err
	}

	// VAE.
	vp := singleVAEPrefix
	pq, err := need(vp+"post_quant_conv.weight", 4)
	if err != nil {
		return nil, nil, nil, err
	}
	vin, err := need(vp+"encoder.conv_in.weight", 4)
	if err != nil {
		return nil, nil, nil, err
	}
	vout, err := need(vp+"decoder.conv_out.weight", 4)
	if err != nil {
		return nil, nil, nil, err
	}
	vae := SD15VAEConfig()
	vae.LatentChannels, vae.InChannels, vae.OutChannels = pq[0], vin[1], vout[0]
	vnb := count(vp + "encoder.down.")
	vae.LayersPerBlock = count(vp + "encoder.down.0.block.")
	vae.BlockOutChannels = make([]int, vnb)
	vae.DownBlockTypes = slices.Repeat([]string{"DownEncoderBlock2D"}, vnb)
	vae.UpBlockTypes = slices.Repeat([]string{"UpDecoderBlock2D"}, vnb)
	for i := range vnb {
		s, err := need(fmt.Sprintf("%sencoder.down.%d.block.0.conv2.weight", vp, i), 4)
		if err != nil {
			return nil, nil, nil, err
		}
		vae.BlockOutChannels[i] = s[0]
	}
	if err := vae.validate(); err != nil {
		return nil, nil, nil, err
	}
	return text, unet, vae, nil
}
