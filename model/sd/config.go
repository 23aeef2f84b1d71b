package sd

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// Context parameter keys under which a loaded model stores its configs; the
// graph builders read them from the context they are given.
const (
	ParamUNetConfig = "sd_unet_config"
	ParamVAEConfig  = "sd_vae_config"
	ParamTextConfig = "sd_text_config"
)

// TextConfig is the subset of transformers' CLIPTextConfig the text encoder uses.
type TextConfig struct {
	HiddenSize            int     `json:"hidden_size"`
	IntermediateSize      int     `json:"intermediate_size"`
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	VocabSize             int     `json:"vocab_size"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	HiddenAct             string  `json:"hidden_act"`
}

// UNetConfig is the subset of diffusers' UNet2DConditionModel config that SD
// 1.x (and the linear-projection variant of 2.x) uses. AttentionHeads holds
// the number of heads per down block, as diffusers reads attention_head_dim.
type UNetConfig struct {
	InChannels           int      `json:"in_channels"`
	OutChannels          int      `json:"out_channels"`
	SampleSize           int      `json:"sample_size"`
	BlockOutChannels     []int    `json:"block_out_channels"`
	DownBlockTypes       []string `json:"down_block_types"`
	UpBlockTypes         []string `json:"up_block_types"`
	MidBlockType         string   `json:"mid_block_type"`
	LayersPerBlock       int      `json:"layers_per_block"`
	NormNumGroups        int      `json:"norm_num_groups"`
	NormEps              float64  `json:"norm_eps"`
	CrossAttentionDim    int      `json:"cross_attention_dim"`
	UseLinearProjection  bool     `json:"use_linear_projection"`
	FlipSinToCos         bool     `json:"flip_sin_to_cos"`
	FreqShift            float64  `json:"freq_shift"`
	DownsamplePadding    int      `json:"downsample_padding"`
	AttentionHeads       []int    `json:"-"`
	TransformerLayers    int      `json:"-"`
	ConvInKernel         int      `json:"conv_in_kernel"`
	ConvOutKernel        int      `json:"conv_out_kernel"`
	ActFn                string   `json:"act_fn"`
	TimeEmbeddingType    string   `json:"time_embedding_type"`
	ResnetTimeScaleShift string   `json:"resnet_time_scale_shift"`
}

// VAEConfig is the subset of diffusers' AutoencoderKL config SD 1.x uses.
type VAEConfig struct {
	InChannels       int      `json:"in_channels"`
	OutChannels      int      `json:"out_channels"`
	LatentChannels   int      `json:"latent_channels"`
	BlockOutChannels []int    `json:"block_out_channels"`
	DownBlockTypes   []string `json:"down_block_types"`
	UpBlockTypes     []string `json:"up_block_types"`
	LayersPerBlock   int      `json:"layers_per_block"`
	NormNumGroups    int      `json:"norm_num_groups"`
	ScalingFactor    float64  `json:"scaling_factor"`
	ActFn            string   `json:"act_fn"`
}

// SD15TextConfig returns the CLIP ViT-L/14 text tower config of SD 1.x.
func SD15TextConfig() *TextConfig {
	return &TextConfig{HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12, NumAttentionHeads: 12,
		MaxPositionEmbeddings: 77, VocabSize: 49408, LayerNormEps: 1e-5, HiddenAct: "quick_gelu"}
}

// SD15UNetConfig returns the UNet config of Stable Diffusion 1.5.
func SD15UNetConfig() *UNetConfig {
	return &UNetConfig{InChannels: 4, OutChannels: 4, SampleSize: 64, BlockOutChannels: []int{320, 640, 1280, 1280},
		DownBlockTypes: []string{"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"},
		UpBlockTypes:   []string{"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"},
		MidBlockType:   "UNetMidBlock2DCrossAttn", LayersPerBlock: 2, NormNumGroups: 32, NormEps: 1e-5,
		CrossAttentionDim: 768, FlipSinToCos: true, DownsamplePadding: 1, AttentionHeads: []int{8, 8, 8, 8},
		TransformerLayers: 1, ConvInKernel: 3, ConvOutKernel: 3, ActFn: "silu", TimeEmbeddingType: "positional",
		ResnetTimeScaleShift: "default"}
}

// SD15VAEConfig returns the AutoencoderKL config of Stable Diffusion 1.x.
func SD15VAEConfig() *VAEConfig {
	return &VAEConfig{InChannels: 3, OutChannels: 3, LatentChannels: 4, BlockOutChannels: []int{128, 256, 512, 512},
		DownBlockTypes: slices.Repeat([]string{"DownEncoderBlock2D"}, 4),
		UpBlockTypes:   slices.Repeat([]string{"UpDecoderBlock2D"}, 4),
		LayersPerBlock: 2, NormNumGroups: 32, ScalingFactor: 0.18215, ActFn: "silu"}
}

// ParseTextConfig reads a transformers CLIPTextConfig JSON; absent keys keep
// the SD 1.x values.
func ParseTextConfig(data []byte) (*TextConfig, error) {
	cfg := SD15TextConfig()
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("text encoder config: %w", err)
	}
	return cfg, cfg.validate()
}

// ParseUNetConfig reads a diffusers UNet2DConditionModel config JSON; absent
// keys keep the SD 1.5 values.
func ParseUNetConfig(data []byte) (*UNetConfig, error) {
	cfg := SD15UNetConfig()
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("unet config: %w", err)
	}
	var raw struct {
		AttentionHeadDim  json.RawMessage `json:"attention_head_dim"`
		NumAttentionHeads json.RawMessage `json:"num_attention_heads"`
		TransformerLayers json.RawMessage `json:"transformer_layers_per_block"`
		ClassEmbedType    *string         `json:"class_embed_type"`
		AdditionEmbedType *string         `json:"addition_embed_type"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("unet config: %w", err)
	}
	// diffusers reads attention_head_dim as the number of heads when
	// num_attention_heads is absent (a naming accident kept for SD 1.x).
	heads := raw.NumAttentionHeads
	if len(heads) == 0 || string(heads) == "null" {
		heads = raw.AttentionHeadDim
	}
	if len(heads) > 0 && string(heads) != "null" {
		list, err := intOrList(heads, len(cfg.DownBlockTypes))
		if err != nil {
			return nil, fmt.Errorf("unet config attention heads: %w", err)
		}
		cfg.AttentionHeads = list
	} else {
		cfg.AttentionHeads = slices.Repeat([]int{8}, len(cfg.DownBlockTypes))
	}
	if len(raw.TransformerLayers) > 0 && string(raw.TransformerLayers) != "null" {
		var n int
		if err := json.Unmarshal(raw.TransformerLayers, &n); err != nil {
			return nil, fmt.Errorf("unet config transformer_layers_per_block: only one value for all blocks is supported: %w", err)
		}
		cfg.TransformerLayers = n
	}
	if raw.ClassEmbedType != nil || raw.AdditionEmbedType != nil {
		return nil, fmt.Errorf("unet config: class or addition embeddings are not supported (not an SD 1.x UNet)")
	}
	return cfg, cfg.validate()
}

// ParseVAEConfig reads a diffusers AutoencoderKL config JSON; absent keys
// keep the SD 1.x values.
func ParseVAEConfig(data []byte) (*VAEConfig, error) {
	cfg := SD15VAEConfig()
	if err := json.Unmarshal(data, cfg); err != nil {
		return nil, fmt.Errorf("vae config: %w", err)
	}
	return cfg, cfg.validate()
}

func intOrList(data json.RawMessage, n int) ([]int, error) {
	var v int
	if err := json.Unmarshal(data, &v); err == nil {
		return slices.Repeat([]int{v}, n), nil
	}
	var list []int
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, err
	}
	if len(list) != n {
		return nil, fmt.Errorf("%d values for %d blocks", len(list), n)
	}
	return list, nil
}

func readJSONConfig[T any](path string, parse func([]byte) (T, error)) (T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var zero T
		return zero, err
	}
	cfg, err := parse(data)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

func (c *TextConfig) validate() error {
	switch {
	case c.HiddenSize <= 0 || c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("text encoder config: hidden_size %d must be a positive multiple of num_attention_heads %d",
			c.HiddenSize, c.NumAttentionHeads)
	case c.NumHiddenLayers <= 0 || c.IntermediateSize <= 0 || c.MaxPositionEmbeddings <= 0 || c.VocabSize <= 0:
		return fmt.Errorf("text encoder config: sizes must be positive")
	case c.HiddenSize > 1<<14 || c.NumHiddenLayers > 128 || c.IntermediateSize > 1<<16 ||
		c.MaxPositionEmbeddings > 1<<12 || c.VocabSize > 1<<22:
		return fmt.Errorf("text encoder config: sizes beyond any SD 1.x model")
	case c.HiddenAct != "quick_gelu" && c.HiddenAct != "gelu":
		return fmt.Errorf("text encoder config: hidden_act %q not supported", c.HiddenAct)
	}
	return nil
}

// NumCrossAttentionLayers is the number of transformer blocks with
// cross-attention, in forward order (down, mid, up): 16 for SD 1.x.
func (c *UNetConfig) NumCrossAttentionLayers() int {
	n := 0
	for _, t := range c.DownBlockTypes {
		if t == "CrossAttnDownBlock2D" {
			n += c.LayersPerBlock * c.TransformerLayers
		}
	}
	if c.MidBlockType == "UNetMidBlock2DCrossAttn" {
		n += c.TransformerLayers
	}
	for _, t := range c.UpBlockTypes {
		if t == "CrossAttnUpBlock2D" {
			n += (c.LayersPerBlock + 1) * c.TransformerLayers
		}
	}
	return n
}

func (c *UNetConfig) validate() error {
	nb := len(c.BlockOutChannels)
	switch {
	case nb == 0 || len(c.DownBlockTypes) != nb || len(c.UpBlockTypes) != nb || len(c.AttentionHeads) != nb:
		return fmt.Errorf("unet config: %d block_out_channels, %d down blocks, %d up blocks and %d head counts must agree",
			nb, len(c.DownBlockTypes), len(c.UpBlockTypes), len(c.AttentionHeads))
	case c.LayersPerBlock <= 0 || c.NormNumGroups <= 0 || c.InChannels <= 0 || c.OutChannels <= 0 || c.CrossAttentionDim <= 0:
		return fmt.Errorf("unet config: sizes must be positive")
	case nb > 8 || c.LayersPerBlock > 16 || c.TransformerLayers > 16 || c.InChannels > 64 || c.OutChannels > 64 ||
		c.CrossAttentionDim > 1<<14 || c.ConvInKernel > 7 || c.ConvOutKernel > 7:
		return fmt.Errorf("unet config: sizes beyond any SD 1.x model")
	case c.MidBlockType != "UNetMidBlock2DCrossAttn":
		return fmt.Errorf("unet config: mid_block_type %q not supported", c.MidBlockType)
	case c.ActFn != "silu" || c.TimeEmbeddingType != "positional" || c.ResnetTimeScaleShift != "default":
		return fmt.Errorf("unet config: act_fn %q, time_embedding_type %q, resnet_time_scale_shift %q not supported",
			c.ActFn, c.TimeEmbeddingType, c.ResnetTimeScaleShift)
	case c.TransformerLayers <= 0:
		return fmt.Errorf("unet config: transformer_layers_per_block must be positive")
	case c.ConvInKernel%2 != 1 || c.ConvOutKernel%2 != 1:
		return fmt.Errorf("unet config: conv_in/conv_out kernels must be odd")
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 || ch > 1<<14 || ch%c.NormNumGroups != 0 || c.AttentionHeads[i] <= 0 || ch%c.AttentionHeads[i] != 0 {
			return fmt.Errorf("unet config: block %d: %d channels do not split into %d groups and %d heads",
				i, ch, c.NormNumGroups, c.AttentionHeads[i])
		}
		switch c.DownBlockTypes[i] {
		case "CrossAttnDownBlock2D", "DownBlock2D":
		default:
			return fmt.Errorf("unet config: down block type %q not supported", c.DownBlockTypes[i])
		}
		switch c.UpBlockTypes[i] {
		case "CrossAttnUpBlock2D", "UpBlock2D":
		default:
			return fmt.Errorf("unet config: up block type %q not supported", c.UpBlockTypes[i])
		}
	}
	return nil
}

// Factor is how many image pixels one latent pixel spans on each side:
// 2^(len(BlockOutChannels)-1), 8 for SD 1.x, 4 for Kata World.
func (c *VAEConfig) Factor() int { return 1 << (len(c.BlockOutChannels) - 1) }

func (c *VAEConfig) validate() error {
	nb := len(c.BlockOutChannels)
	switch {
	case nb == 0 || len(c.DownBlockTypes) != nb || len(c.UpBlockTypes) != nb:
		return fmt.Errorf("vae config: %d block_out_channels, %d down blocks, %d up blocks must agree",
			nb, len(c.DownBlockTypes), len(c.UpBlockTypes))
	case c.LayersPerBlock <= 0 || c.NormNumGroups <= 0 || c.InChannels <= 0 || c.OutChannels <= 0 || c.LatentChannels <= 0:
		return fmt.Errorf("vae config: sizes must be positive")
	case nb > 8 || c.LayersPerBlock > 16 || c.InChannels > 64 || c.OutChannels > 64 || c.LatentChannels > 64:
		return fmt.Errorf("vae config: sizes beyond any SD 1.x model")
	case c.ScalingFactor <= 0:
		return fmt.Errorf("vae config: scaling_factor must be positive")
	case c.ActFn != "silu":
		return fmt.Errorf("vae config: act_fn %q not supported", c.ActFn)
	}
	for i, ch := range c.BlockOutChannels {
		if ch <= 0 || ch > 1<<14 || ch%c.NormNumGroups != 0 {
			return fmt.Errorf("vae config: block %d: %d channels do not split into %d groups", i, ch, c.NormNumGroups)
		}
		if c.DownBlockTypes[i] != "DownEncoderBlock2D" || c.UpBlockTypes[i] != "UpDecoderBlock2D" {
			return fmt.Errorf("vae config: block types %q / %q not supported", c.DownBlockTypes[i], c.UpBlockTypes[i])
		}
	}
	return nil
}
