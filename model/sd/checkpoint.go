package sd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kata/model/scheduler"
	"kata/model/tokenizer"
)

// ErrOtherModel is wrapped by Load's error for a file or folder that is a
// model of another family (SD 2.x, SDXL, SD 3, FLUX) or not a checkpoint at
// all (a LoRA, a VAE, an embedding): Kata runs SD 1.x, and says so instead
// of listing the tensors an SD 1.x model would need.
var ErrOtherModel = errors.New("not a Stable Diffusion 1.x model")

// Kinds DetectSingleFile and DetectDiffusers name; "" is SD 1.x (or unknown,
// left to the loader's checks).
const (
	KindSD2  = "an SD 2.x checkpoint"
	KindSDXL = "an SDXL checkpoint"
	KindSD3  = "an SD 3 checkpoint"
	KindFlux = "a FLUX checkpoint"
	KindLoRA = "a LoRA (load it with the model it was made for, not as the model)"
	KindVAE  = "a VAE on its own, not a whole model"
	KindTI   = "a textual-inversion embedding (load it as an identifier)"
)

// DetectSingleFile names the model family of a single-file checkpoint from
// its tensor names and shapes, by the key layouts the published checkpoints
// use: SDXL's "conditioner.embedders.*" text encoders (and its UNet's
// "label_emb"), SD 2.x's OpenCLIP "cond_stage_model.model.*" text encoder
// (or a UNet whose cross-attention reads 1024-wide context), SD 3's
// "joint_blocks", FLUX's "double_blocks", kohya LoRA "lora_unet_*" /
// "lora_te_*" and diffusers/PEFT ".lora_A."/".lora_down." keys, a bare VAE's
// "encoder."/"decoder." keys, and an embedding's "emb_params" or
// "string_to_param". It returns "" for SD 1.x's layout and anything else.
func DetectSingleFile(shapes map[string][]int) string {
	some := func(pred func(string) bool) bool {
		for n := range shapes {
			if pred(n) {
				return true
			}
		}
		return false
	}
	prefix := func(p string) bool { return some(func(n string) bool { return strings.HasPrefix(n, p) }) }
	switch {
	case prefix("conditioner.embedders.") || prefix(singleUNetPrefix+"label_emb."):
		return KindSDXL
	case prefix(singleUNetPrefix+"joint_blocks.") || prefix("joint_blocks."):
		return KindSD3
	case prefix(singleUNetPrefix+"double_blocks.") || prefix("double_blocks."):
		return KindFlux
	case prefix("cond_stage_model.model."):
		return KindSD2
	case prefix("lora_unet_") || prefix("lora_te_") || some(func(n string) bool {
		return strings.Contains(n, ".lora_down.") || strings.Contains(n, ".lora_A.")
	}):
		return KindLoRA
	case !prefix(singleUNetPrefix) && (prefix("encoder.conv_in.") || prefix("decoder.conv_in.")):
		return KindVAE
	case !prefix(singleUNetPrefix) && (prefix("emb_params") || prefix("string_to_param")):
		return KindTI
	}
	if s, ok := shapes[singleUNetPrefix+"input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"]; ok && len(s) == 2 && s[1] == 1024 {
		return KindSD2
	}
	return ""
}

// DetectDiffusers names the model family of a diffusers folder from its
// model_index.json and configs: a "text_encoder_2" component or an XL
// pipeline class is SDXL, a UNet cross_attention_dim of 1024 is SD 2.x, a
// "transformer" component is SD 3 or FLUX. It returns "" for SD 1.x's layout
// and anything else.
func DetectDiffusers(dir string) string {
	var index map[string]any
	if data, err := os.ReadFile(filepath.Join(dir, "model_index.json")); err == nil {
		_ = json.Unmarshal(data, &index)
	}
	class, _ := index["_class_name"].(string)
	switch {
	case strings.Contains(class, "XL") || index["text_encoder_2"] != nil:
		return KindSDXL
	case strings.Contains(class, "Flux"):
		return KindFlux
	case strings.Contains(class, "StableDiffusion3") || index["transformer"] != nil:
		return KindSD3
	}
	var unet struct {
		CrossAttentionDim any `json:"cross_attention_dim"`
	}
	if data, err := os.ReadFile(filepath.Join(dir, "unet", "config.json")); err == nil && json.Unmarshal(data, &unet) == nil {
		if d, ok := unet.CrossAttentionDim.(float64); ok && d == 1024 {
			return KindSD2
		}
	}
	return ""
}

// otherModelError is Load's error for a detected kind.
func otherModelError(kind string) error {
	return fmt.Errorf("%w: this is %s; Kata runs SD 1.x (Stable Diffusion 1.4/1.5 and their fine-tunes)", ErrOtherModel, kind)
}

// checkSingleFile refuses a single file of another model family.
func checkSingleFile(shapes map[string][]int) error {
	if kind := DetectSingleFile(shapes); kind != "" {
		return otherModelError(kind)
	}
	return nil
}

// checkDiffusers refuses a diffusers folder of another model family.
func checkDiffusers(dir string) error {
	if kind := DetectDiffusers(dir); kind != "" {
		return otherModelError(kind)
	}
	return nil
}

// readConfigDir takes what a single-file checkpoint's --config folder (a
// diffusers folder) says beyond the component configs: its scheduler
// (scheduler/scheduler_config.json, e.g. a v-prediction fine-tune's) and its
// tokenizer (tokenizer/vocab.json and merges.txt), when present.
func (m *Model) readConfigDir(dir string) error {
	if p := filepath.Join(dir, "scheduler", "scheduler_config.json"); fileExists(p) {
		cfg, err := scheduler.LoadConfig(p)
		if err != nil {
			return err
		}
		m.Scheduler = cfg
	}
	if fileExists(filepath.Join(dir, "tokenizer", "vocab.json")) {
		tok, err := tokenizer.Load(filepath.Join(dir, "tokenizer"))
		if err != nil {
			return err
		}
		m.Tokenizer = tok
	}
	return nil
}

// InfotextHash returns the "Model hash" AUTOMATIC1111 writes for this model:
// Hash (the first 10 hex digits of the checkpoint file's SHA-256) for a
// single-file checkpoint, "" for a diffusers folder, which A1111 does not
// load and for which no tool computes Kata's hash of the UNet file.
func (m *Model) InfotextHash() string {
	if m.Format != "single-file" {
		return ""
	}
	return m.Hash
}
