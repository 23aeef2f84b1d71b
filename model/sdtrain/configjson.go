package sdtrain

import (
	"encoding/json"
	"fmt"

	"kata/model/scheduler"
	"kata/model/sd"
)

// diffusersVersion is the diffusers release whose config layout these files
// follow (the one model/sd's sd-tiny fixture was written with).
const diffusersVersion = "0.27.2"

// TextConfigJSON writes cfg as a transformers CLIPTextConfig config.json,
// with every key CLIPTextModel.from_pretrained reads (the layout of
// model/sd's sd-tiny fixture).
func TextConfigJSON(cfg *sd.TextConfig) ([]byte, error) {
	return marshalConfig(map[string]any{
		"architectures": []string{"CLIPTextModel"}, "attention_dropout": 0.0, "bos_token_id": 0,
		"dropout": 0.0, "eos_token_id": 2, "hidden_act": cfg.HiddenAct, "hidden_size": cfg.HiddenSize,
		"initializer_factor": 1.0, "initializer_range": 0.02, "intermediate_size": cfg.IntermediateSize,
		"layer_norm_eps": cfg.LayerNormEps, "max_position_embeddings": cfg.MaxPositionEmbeddings,
		"model_type": "clip_text_model", "num_attention_heads": cfg.NumAttentionHeads,
		"num_hidden_layers": cfg.NumHiddenLayers, "pad_token_id": 1, "projection_dim": cfg.HiddenSize,
		"torch_dtype": "float32", "vocab_size": cfg.VocabSize,
	}, "text encoder")
}

// UNetConfigJSON writes cfg as a diffusers UNet2DConditionModel config.json
// with every key of diffusers 0.27's config (heads as attention_head_dim, a
// list when they differ per block, as diffusers reads SD 1.x configs).
func UNetConfigJSON(cfg *sd.UNetConfig) ([]byte, error) {
	var heads any = cfg.AttentionHeads
	same := true
	for _, h := range cfg.AttentionHeads {
		same = same && h == cfg.AttentionHeads[0]
	}
	if same && len(cfg.AttentionHeads) > 0 {
		heads = cfg.AttentionHeads[0]
	}
	return marshalConfig(map[string]any{
		"_class_name": "UNet2DConditionModel", "_diffusers_version": diffusersVersion,
		"act_fn": cfg.ActFn, "addition_embed_type": nil, "addition_embed_type_num_heads": 64,
		"addition_time_embed_dim": nil, "attention_head_dim": heads, "attention_type": "default",
		"block_out_channels": cfg.BlockOutChannels, "center_input_sample": false, "class_embed_type": nil,
		"class_embeddings_concat": false, "conv_in_kernel": cfg.ConvInKernel, "conv_out_kernel": cfg.ConvOutKernel,
		"cross_attention_dim": cfg.CrossAttentionDim, "cross_attention_norm": nil,
		"down_block_types": cfg.DownBlockTypes, "downsample_padding": cfg.DownsamplePadding, "dropout": 0.0,
		"dual_cross_attention": false, "encoder_hid_dim": nil, "encoder_hid_dim_type": nil,
		"flip_sin_to_cos": cfg.FlipSinToCos, "freq_shift": cfg.FreqShift, "in_channels": cfg.InChannels,
		"layers_per_block": cfg.LayersPerBlock, "mid_block_only_cross_attention": nil,
		"mid_block_scale_factor": 1, "mid_block_type": cfg.MidBlockType, "norm_eps": cfg.NormEps,
		"norm_num_groups": cfg.NormNumGroups, "num_attention_heads": nil, "num_class_embeds": nil,
		"only_cross_attention": false, "out_channels": cfg.OutChannels,
		"projection_class_embeddings_input_dim": nil, "resnet_out_scale_factor": 1.0,
		"resnet_skip_time_act": false, "resnet_time_scale_shift": cfg.ResnetTimeScaleShift,
		"reverse_transformer_layers_per_block": nil, "sample_size": cfg.SampleSize,
		"time_cond_proj_dim": nil, "time_embedding_act_fn": nil, "time_embedding_dim": nil,
		"time_embedding_type": cfg.TimeEmbeddingType, "timestep_post_act": nil,
		"transformer_layers_per_block": cfg.TransformerLayers, "up_block_types": cfg.UpBlockTypes,
		"upcast_attention": false, "use_linear_projection": cfg.UseLinearProjection,
	}, "unet")
}

// VAEConfigJSON writes cfg as a diffusers AutoencoderKL config.json whose
// sample_size (a default image size in diffusers) is imageSize.
func VAEConfigJSON(cfg *sd.VAEConfig, imageSize int) ([]byte, error) {
	return marshalConfig(map[string]any{
		"_class_name": "AutoencoderKL", "_diffusers_version": diffusersVersion, "act_fn": cfg.ActFn,
		"block_out_channels": cfg.BlockOutChannels, "down_block_types": cfg.DownBlockTypes,
		"force_upcast": true, "in_channels": cfg.InChannels, "latent_channels": cfg.LatentChannels,
		"latents_mean": nil, "latents_std": nil, "layers_per_block": cfg.LayersPerBlock,
		"norm_num_groups": cfg.NormNumGroups, "out_channels": cfg.OutChannels, "sample_size": imageSize,
		"scaling_factor": cfg.ScalingFactor, "up_block_types": cfg.UpBlockTypes,
	}, "vae")
}

// SchedulerConfigJSON writes cfg as a diffusers DDIMScheduler config.
func SchedulerConfigJSON(cfg scheduler.Config) ([]byte, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var trained any
	if len(cfg.TrainedBetas) > 0 {
		trained = cfg.TrainedBetas
	}
	return marshalConfig(map[string]any{
		"_class_name": "DDIMScheduler", "_diffusers_version": diffusersVersion,
		"beta_end": cfg.BetaEnd, "beta_schedule": cfg.BetaSchedule, "beta_start": cfg.BetaStart,
		"clip_sample": cfg.ClipSample, "clip_sample_range": cfg.ClipSampleRange,
		"dynamic_thresholding_ratio": 0.995, "num_train_timesteps": cfg.NumTrainTimesteps,
		"prediction_type": cfg.PredictionType, "rescale_betas_zero_snr": cfg.RescaleZeroSNR,
		"sample_max_value": 1.0, "set_alpha_to_one": cfg.SetAlphaToOne, "steps_offset": cfg.StepsOffset,
		"thresholding": cfg.Thresholding, "timestep_spacing": cfg.TimestepSpacing, "trained_betas": trained,
	}, "scheduler")
}

// modelIndexJSON is the StableDiffusionPipeline model_index.json.
func modelIndexJSON() ([]byte, error) {
	return marshalConfig(map[string]any{
		"_class_name": "StableDiffusionPipeline", "_diffusers_version": diffusersVersion,
		"feature_extractor": []any{nil, nil}, "image_encoder": []any{nil, nil},
		"requires_safety_checker": false, "safety_checker": []any{nil, nil},
		"scheduler": []string{"diffusers", "DDIMScheduler"}, "text_encoder": []string{"transformers", "CLIPTextModel"},
		"tokenizer": []string{"transformers", "CLIPTokenizer"}, "unet": []string{"diffusers", "UNet2DConditionModel"},
		"vae": []string{"diffusers", "AutoencoderKL"},
	}, "model index")
}

func marshalConfig(m map[string]any, what string) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%s config: %w", what, err)
	}
	return append(data, '\n'), nil
}
