package lora

import (
	"regexp"
	"strings"

	"kata/model/sd"
)

// ldmBlock matches the block part of a kohya UNet layer named after the
// original LDM modules ("lora_unet_input_blocks_4_1_proj_in"), the naming
// older AUTOMATIC1111-trained LoRAs use: the block path and the rest.
var ldmBlock = regexp.MustCompile(`^lora_unet_(input_blocks_\d+_\d+|middle_block_\d+|output_blocks_\d+_\d+|time_embed_\d+|out_\d+)(?:_(.+))?$`)

// ldmLeaf maps the rest of an LDM layer name that is a leaf module of a
// ResBlock, downsampler or upsampler to its dotted LDM form.
var ldmLeaf = map[string]string{
	"in_layers_0": "in_layers.0", "in_layers_2": "in_layers.2", "emb_layers_1": "emb_layers.1",
	"out_layers_0": "out_layers.0", "out_layers_3": "out_layers.3", "skip_connection": "skip_connection",
	"op": "op", "conv": "conv",
}

// ldmTarget maps a kohya layer with LDM UNet names to a model weight key
// through sd.SingleFileName (the single-file <-> diffusers mapping of the
// UNet config). Spatial-transformer layers keep their inner names
// ("transformer_blocks_0_attn1_to_q") in both namings, so only their block
// prefix is translated and the rest looked up in the kohya index.
func (ix *index) ldmTarget(layer string) (string, bool) {
	if ix.unet == nil {
		return "", false
	}
	m := ldmBlock.FindStringSubmatch(layer)
	if m == nil {
		return "", false
	}
	block, rest := m[1], m[2]
	dotted := dotIndices(block)
	translate := func(ldm string) (string, bool) {
		c, d, ok := sd.SingleFileName("model.diffusion_model."+ldm+".weight", ix.unet, nil)
		if !ok || c != sd.ComponentUNet {
			return "", false
		}
		key := c + "/" + d
		_, found := ix.weights[key]
		return key, found
	}
	switch {
	case rest == "":
		// time_embed.N, out.N, input_blocks.0.0 (conv_in)
		return translate(dotted)
	case ldmLeaf[rest] != "":
		return translate(dotted + "." + ldmLeaf[rest])
	}
	probe, ok := translate(dotted + ".proj_in")
	if !ok {
		return "", false
	}
	prefix := strings.TrimSuffix(strings.TrimPrefix(probe, sd.ComponentUNet+"/"), "proj_in.weight")
	key, ok := ix.kohya["lora_unet_"+strings.ReplaceAll(prefix, ".", "_")+rest]
	return key, ok
}

// dotIndices turns "input_blocks_4_1" into "input_blocks.4.1" (the numeric
// parts of an LDM block path).
func dotIndices(block string) string {
	parts := strings.Split(block, "_")
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			if p[0] >= '0' && p[0] <= '9' {
				b.WriteByte('.')
			} else {
				b.WriteByte('_')
			}
		}
		b.WriteString(p)
	}
	return b.String()
}
