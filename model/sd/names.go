package sd

import (
	"strconv"
	"strings"
)

// Prefixes of the three models inside an original (LDM / AUTOMATIC1111)
// single-file checkpoint.
const (
	singleUNetPrefix = "model.diffusion_model."
	singleVAEPrefix  = "first_stage_model."
	singleTextPrefix = "cond_stage_model.transformer."
)

// Component names: the first part of a tensor key in this package
// ("unet/down_blocks.0.resnets.0.conv1.weight") and the scope of its variables.
const (
	ComponentUNet = unetScope
	ComponentVAE  = vaeScope
	ComponentText = textScope
)

// SingleFileName translates a tensor name of an original single-file SD 1.x
// checkpoint into its diffusers component and name, using the UNet and VAE
// block layout of the configs (layers per block, which blocks have
// attention). ok is false for entries that are not model weights of a
// diffusers pipeline (EMA copies, the DDPM schedule, position_ids buffers are
// still translated but simply not used). The rules follow the LDM module
// structure: input_blocks/middle_block/output_blocks for the UNet,
// down/mid/up with block/attn_1 for the VAE.
func SingleFileName(name string, unet *UNetConfig, vae *VAEConfig) (component, diffusersName string, ok bool) {
	switch {
	case strings.HasPrefix(name, singleUNetPrefix):
		d, ok := unetSingleName(strings.TrimPrefix(name, singleUNetPrefix), unet)
		return ComponentUNet, d, ok
	case strings.HasPrefix(name, singleVAEPrefix):
		d, ok := vaeSingleName(strings.TrimPrefix(name, singleVAEPrefix), vae)
		return ComponentVAE, d, ok
	case strings.HasPrefix(name, singleTextPrefix):
		rest := strings.TrimPrefix(name, singleTextPrefix)
		// Checkpoints saved with old transformers versions lack "text_model.".
		if !strings.HasPrefix(rest, "text_model.") {
			rest = "text_model." + rest
		}
		return ComponentText, rest, true
	}
	return "", "", false
}

// splitIndex parses "N.rest" into N and rest.
func splitIndex(s string) (int, string, bool) {
	num, rest, found := strings.Cut(s, ".")
	if !found {
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0, "", false
	}
	return n, rest, true
}

// replacePrefix renames the first matching prefix of rest using pairs
// (old, new, old, new...) and reports whether one matched.
func replacePrefix(rest string, pairs ...string) (string, bool) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.HasPrefix(rest, pairs[i]) {
			return pairs[i+1] + strings.TrimPrefix(rest, pairs[i]), true
		}
	}
	return rest, false
}

// unetResnetName maps the LDM ResBlock parameter names to ResnetBlock2D ones.
func unetResnetName(rest string) (string, bool) {
	return replacePrefix(rest,
		"in_layers.0.", "norm1.", "in_layers.2.", "conv1.",
		"emb_layers.1.", "time_emb_proj.",
		"out_layers.0.", "norm2.", "out_layers.3.", "conv2.",
		"skip_connection.", "conv_shortcut.")
}

func unetSingleName(n string, cfg *UNetConfig) (string, bool) {
	if r, ok := replacePrefix(n,
		"time_embed.0.", "time_embedding.linear_1.", "time_embed.2.", "time_embedding.linear_2.",
		"input_blocks.0.0.", "conv_in.", "out.0.", "conv_norm_out.", "out.2.", "conv_out."); ok {
		return r, true
	}
	per := cfg.LayersPerBlock + 1
	switch {
	case strings.HasPrefix(n, "input_blocks."):
		idx, rest, ok := splitIndex(strings.TrimPrefix(n, "input_blocks."))
		if !ok || idx == 0 {
			return "", false
		}
		sub, rest, ok := splitIndex(rest)
		if !ok {
			return "", false
		}
		block, layer := (idx-1)/per, (idx-1)%per
		if block >= len(cfg.BlockOutChannels) {
			return "", false
		}
		prefix := "down_blocks." + strconv.Itoa(block) + "."
		switch {
		case layer == cfg.LayersPerBlock && sub == 0 && strings.HasPrefix(rest, "op."):
			return prefix + "downsamplers.0.conv." + strings.TrimPrefix(rest, "op."), true
		case layer < cfg.LayersPerBlock && sub == 0:
			r, ok := unetResnetName(rest)
			return prefix + "resnets." + strconv.Itoa(layer) + "." + r, ok
		case layer < cfg.LayersPerBlock && sub == 1:
			return prefix + "attentions." + strconv.Itoa(layer) + "." + rest, true
		}
	case strings.HasPrefix(n, "middle_block."):
		sub, rest, ok := splitIndex(strings.TrimPrefix(n, "middle_block."))
		if !ok {
			return "", false
		}
		switch sub {
		case 0, 2:
			r, ok := unetResnetName(rest)
			return "mid_block.resnets." + strconv.Itoa(sub/2) + "." + r, ok
		case 1:
			return "mid_block.attentions.0." + rest, true
		}
	case strings.HasPrefix(n, "output_blocks."):
		idx, rest, ok := splitIndex(strings.TrimPrefix(n, "output_blocks."))
		if !ok {
			return "", false
		}
		sub, rest, ok := splitIndex(rest)
		if !ok {
			return "", false
		}
		block, layer := idx/per, idx%per
		if block >= len(cfg.UpBlockTypes) {
			return "", false
		}
		prefix := "up_blocks." + strconv.Itoa(block) + "."
		hasAttn := cfg.UpBlockTypes[block] == "CrossAttnUpBlock2D"
		upsampler := 1
		if hasAttn {
			upsampler = 2
		}
		switch {
		case sub == 0:
			r, ok := unetResnetName(rest)
			return prefix + "resnets." + strconv.Itoa(layer) + "." + r, ok
		case sub == 1 && hasAttn:
			return prefix + "attentions." + strconv.Itoa(layer) + "." + rest, true
		case sub == upsampler && layer == cfg.LayersPerBlock && strings.HasPrefix(rest, "conv."):
			return prefix + "upsamplers.0." + rest, true
		}
	}
	return "", false
}

// vaeResnetName maps the LDM VAE ResnetBlock names (only the shortcut differs).
func vaeResnetName(rest string) (string, bool) {
	if r, ok := replacePrefix(rest, "nin_shortcut.", "conv_shortcut."); ok {
		return r, true
	}
	for _, p := range []string{"norm1.", "conv1.", "norm2.", "conv2."} {
		if strings.HasPrefix(rest, p) {
			return rest, true
		}
	}
	return "", false
}

func vaeSingleName(n string, cfg *VAEConfig) (string, bool) {
	if r, ok := replacePrefix(n, "quant_conv.", "quant_conv.", "post_quant_conv.", "post_quant_conv."); ok {
		return r, true
	}
	part, rest, found := strings.Cut(n, ".")
	if !found || (part != "encoder" && part != "decoder") {
		return "", false
	}
	prefix := part + "."
	if r, ok := replacePrefix(rest, "conv_in.", "conv_in.", "conv_out.", "conv_out.", "norm_out.", "conv_norm_out."); ok {
		return prefix + r, true
	}
	if r, ok := replacePrefix(rest, "mid.block_1.", "", "mid.block_2.", ""); ok {
		res, ok := vaeResnetName(r)
		idx := "0"
		if strings.HasPrefix(rest, "mid.block_2.") {
			idx = "1"
		}
		return prefix + "mid_block.resnets." + idx + "." + res, ok
	}
	if strings.HasPrefix(rest, "mid.attn_1.") {
		r, ok := replacePrefix(strings.TrimPrefix(rest, "mid.attn_1."),
			"norm.", "group_norm.", "q.", "to_q.", "k.", "to_k.", "v.", "to_v.", "proj_out.", "to_out.0.")
		return prefix + "mid_block.attentions.0." + r, ok
	}
	nb := len(cfg.BlockOutChannels)
	var levels, blocks, sampler string
	if part == "encoder" {
		levels, blocks, sampler = "down.", "down_blocks.", "downsample.conv."
	} else {
		levels, blocks, sampler = "up.", "up_blocks.", "upsample.conv."
	}
	if !strings.HasPrefix(rest, levels) {
		return "", false
	}
	level, r, ok := splitIndex(strings.TrimPrefix(rest, levels))
	if !ok || level >= nb {
		return "", false
	}
	// The LDM decoder numbers its levels from the lowest resolution up;
	// diffusers numbers up_blocks in execution order.
	if part == "decoder" {
		level = nb - 1 - level
	}
	prefix += blocks + strconv.Itoa(level) + "."
	if strings.HasPrefix(r, "block.") {
		j, r2, ok := splitIndex(strings.TrimPrefix(r, "block."))
		if !ok {
			return "", false
		}
		res, ok := vaeResnetName(r2)
		return prefix + "resnets." + strconv.Itoa(j) + "." + res, ok
	}
	if strings.HasPrefix(r, sampler) {
		kind := "downsamplers.0.conv."
		if part == "decoder" {
			kind = "upsamplers.0.conv."
		}
		return prefix + kind + strings.TrimPrefix(r, sampler), true
	}
	return "", false
}
