package sdtrain

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"kata/assets"
	"kata/model/safetensors"
	"kata/model/sd"
)

// Export writes the model of a checkpoint (normally the unet stage's) as a
// diffusers folder at outDir: model_index.json, scheduler/, text_encoder/,
// tokenizer/ (the CLIP vocabulary Kata embeds), unet/ and vae/, each with
// its config.json and F16 weights. Trained weights are the EMA; the VAE's
// scaling_factor is the one the run measured. The folder is built beside
// outDir and renamed into place, replacing an existing one only when complete.
func Export(checkpointPath, outDir string) error {
	c, err := loadCheckpoint(checkpointPath)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := export(c, outDir); err != nil {
		return fmt.Errorf("export %s: %w", outDir, err)
	}
	return nil
}

func export(c *checkpoint, outDir string) error {
	outDir = filepath.Clean(outDir)
	if err := os.MkdirAll(filepath.Dir(outDir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(outDir), "."+filepath.Base(outDir)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	arch := c.Arch
	vae := *arch.VAE
	vae.ScalingFactor = c.ScalingFactor
	arch.VAE = &vae
	meta, err := archMetadata(arch)
	if err != nil {
		return err
	}
	index, err := modelIndexJSON()
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"model_index.json":                  index,
		"scheduler/scheduler_config.json":   []byte(meta["scheduler_config"]),
		"text_encoder/config.json":          []byte(meta["text_config"]),
		"unet/config.json":                  []byte(meta["unet_config"]),
		"vae/config.json":                   []byte(meta["vae_config"]),
		"tokenizer/special_tokens_map.json": []byte(specialTokensMap),
		"tokenizer/tokenizer_config.json":   []byte(tokenizerConfig),
	}
	for _, name := range []string{"vocab.json", "merges.txt"} {
		data, err := fs.ReadFile(assets.CLIP, "clip/"+name)
		if err != nil {
			return err
		}
		files["tokenizer/"+name] = data
	}
	for name, data := range files {
		p := filepath.Join(tmp, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
	}
	weights := map[string][]safetensors.Tensor{}
	for key, w := range c.Weights {
		if e, ok := c.EMA[key]; ok {
			w = e
		}
		component, name, _ := strings.Cut(key, "/")
		weights[component] = append(weights[component], safetensors.F16Tensor(name, c.Shapes[key], w))
	}
	for _, f := range []struct{ component, file string }{
		{sd.ComponentText, "text_encoder/model.safetensors"},
		{sd.ComponentUNet, "unet/diffusion_pytorch_model.safetensors"},
		{sd.ComponentVAE, "vae/diffusion_pytorch_model.safetensors"},
	} {
		if len(weights[f.component]) == 0 {
			return fmt.Errorf("checkpoint holds no %s weights", f.component)
		}
		if err := safetensors.Write(filepath.Join(tmp, filepath.FromSlash(f.file)), weights[f.component],
			map[string]string{"format": "pt"}); err != nil {
			return err
		}
	}
	old := ""
	if _, err := os.Stat(outDir); err == nil {
		old = outDir + ".old"
		if err := os.RemoveAll(old); err != nil {
			return err
		}
		if err := os.Rename(outDir, old); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, outDir); err != nil {
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// The Hugging Face CLIPTokenizer files of SD 1.x (as in model/sd's sd-tiny).
const specialTokensMap = `{
  "bos_token": {"content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "eos_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "unk_token": {"content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "pad_token": "<|endoftext|>"
}
`

const tokenizerConfig = `{
  "add_prefix_space": false,
  "bos_token": {"__type": "AddedToken", "content": "<|startoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "do_lower_case": true,
  "eos_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false},
  "errors": "replace",
  "model_max_length": 77,
  "pad_token": "<|endoftext|>",
  "tokenizer_class": "CLIPTokenizer",
  "unk_token": {"__type": "AddedToken", "content": "<|endoftext|>", "lstrip": false, "normalized": true, "rstrip": false, "single_word": false}
}
`
