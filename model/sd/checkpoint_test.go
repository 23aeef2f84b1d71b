package sd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/safetensors"
	"kata/model/sd/sdtest"
)

// Tensor names below follow the published layouts: SDXL base checkpoints
// (sd_xl_base_1.0.safetensors: conditioner.embedders.0.transformer.* CLIP-L,
// conditioner.embedders.1.model.* OpenCLIP-G, model.diffusion_model.label_emb),
// SD 2.x (v2-1_768-ema-pruned: cond_stage_model.model.* OpenCLIP-H, UNet
// cross-attention keys 1024 wide), SD 3 (model.diffusion_model.joint_blocks),
// FLUX (double_blocks), kohya LoRA (lora_unet_*), a bare VAE
// (encoder.*/decoder.*), an A1111 embedding (emb_params).
func TestDetectSingleFile(t *testing.T) {
	sd1 := map[string][]int{
		"cond_stage_model.transformer.text_model.embeddings.token_embedding.weight":     {49408, 768},
		"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": {320, 768},
		"first_stage_model.encoder.conv_in.weight":                                      {128, 3, 3, 3},
	}
	for _, c := range []struct {
		name   string
		shapes map[string][]int
		want   string
	}{
		{"sd1", sd1, ""},
		{"sdxl", map[string][]int{"conditioner.embedders.1.model.token_embedding.weight": {49408, 1280},
			"model.diffusion_model.label_emb.0.0.weight": {1280, 2816}}, KindSDXL},
		{"sd2", map[string][]int{"cond_stage_model.model.token_embedding.weight": {49408, 1024}}, KindSD2},
		{"sd2 unet only", map[string][]int{"model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": {320, 1024}}, KindSD2},
		{"sd3", map[string][]int{"model.diffusion_model.joint_blocks.0.x_block.attn.qkv.weight": {4608, 1536}}, KindSD3},
		{"flux", map[string][]int{"double_blocks.0.img_attn.qkv.weight": {9216, 3072}}, KindFlux},
		{"lora", map[string][]int{"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": {4, 320}}, KindLoRA},
		{"vae", map[string][]int{"encoder.conv_in.weight": {128, 3, 3, 3}, "decoder.conv_in.weight": {512, 4, 3, 3}}, KindVAE},
		{"embedding", map[string][]int{"emb_params": {1, 768}}, KindTI},
	} {
		if got := DetectSingleFile(c.shapes); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestLoadRefusesOtherModels(t *testing.T) {
	dir := t.TempDir()
	xl := filepath.Join(dir, "sd_xl_base_1.0.safetensors")
	ts := []safetensors.Tensor{
		safetensors.F32Tensor("conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight", []int{2, 2}, make([]float32, 4)),
		safetensors.F32Tensor("model.diffusion_model.label_emb.0.0.weight", []int{2, 2}, make([]float32, 4)),
	}
	if err := safetensors.Write(xl, ts, nil); err != nil {
		t.Fatal(err)
	}
	_, err := Load(xl, nil)
	if !errors.Is(err, ErrOtherModel) || !strings.Contains(err.Error(), "this is an SDXL checkpoint; Kata runs SD 1.x") || strings.Contains(err.Error(), "missing") {
		t.Errorf("SDXL file: %v", err)
	}
	// A diffusers SDXL folder: model_index.json names the XL pipeline and a
	// second text encoder.
	folder := filepath.Join(dir, "sdxl")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	index := `{"_class_name": "StableDiffusionXLPipeline", "text_encoder": ["transformers", "CLIPTextModel"], "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"]}`
	if err := os.WriteFile(filepath.Join(folder, "model_index.json"), []byte(index), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(folder, nil); !errors.Is(err, ErrOtherModel) || !strings.Contains(err.Error(), "SDXL") {
		t.Errorf("SDXL folder: %v", err)
	}
	// The fixture (SD 1.x layout) is no other model.
	if kind := DetectDiffusers(sdtest.TinyDir()); kind != "" {
		t.Errorf("fixture folder detected as %s", kind)
	}
}

// TestConfigDirScheduler loads the fixture's single file with a --config
// folder whose scheduler is a v-prediction one: the model must take it.
func TestConfigDirScheduler(t *testing.T) {
	cfg := t.TempDir()
	for _, sub := range []string{"text_encoder", "unet", "vae"} {
		data, err := os.ReadFile(filepath.Join(sdtest.TinyDir(), sub, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(cfg, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cfg, sub, "config.json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m, err := Load(sdtest.TinySingleFile(), &LoadOptions{ConfigDir: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if m.Scheduler.PredictionType != "epsilon" {
		t.Errorf("without a scheduler config: %q", m.Scheduler.PredictionType)
	}
	m.Finalize()
	sched := `{"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
		"num_train_timesteps": 1000, "prediction_type": "v_prediction", "timestep_spacing": "trailing", "steps_offset": 1}`
	if err := os.MkdirAll(filepath.Join(cfg, "scheduler"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfg, "scheduler", "scheduler_config.json"), []byte(sched), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err = Load(sdtest.TinySingleFile(), &LoadOptions{ConfigDir: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	if m.Scheduler.PredictionType != "v_prediction" || m.Scheduler.TimestepSpacing != "trailing" {
		t.Errorf("--config scheduler ignored: %+v", m.Scheduler)
	}
}
