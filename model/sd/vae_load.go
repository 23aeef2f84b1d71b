package sd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"kata/model/safetensors"
)

// ErrNoVAE is the error of loading a checkpoint that holds no VAE weights
// (no first_stage_model.* tensors) without LoadOptions.VAE: such
// checkpoints are published to be used with a separate VAE file.
var ErrNoVAE = errors.New("the checkpoint has no VAE weights (no first_stage_model.* tensors): " +
	"choose a VAE, a single file such as vae-ft-mse-840000-ema-pruned.safetensors or a diffusers vae folder")

// vaeFile is an external VAE chosen with LoadOptions.VAE: a single
// .safetensors file with LDM names ("encoder.down.0.block.0.conv1.weight",
// optionally behind "first_stage_model.") or diffusers names
// ("encoder.down_blocks.0.resnets.0.conv1.weight"), or a diffusers vae
// folder (config.json and diffusion_pytorch_model[.fp16].safetensors).
type vaeFile struct {
	file *safetensors.File
	// config is the folder's config.json; nil for a single file (inferred
	// from its tensors for LDM names, the model's own or SD 1.x's otherwise).
	config *VAEConfig
	// ldm is set for LDM names; prefix is what precedes them.
	ldm    bool
	prefix string
	// sha256 is the hex SHA-256 of the weights file.
	sha256 string
}

// openVAE opens the VAE at path (a file or a diffusers vae folder; see
// vaeFile) for loading with a model; variant is LoadOptions.Variant.
func openVAE(path, variant string) (*vaeFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	v := &vaeFile{}
	weights := path
	if st.IsDir() {
		if v.config, err = readJSONConfig(filepath.Join(path, "config.json"), ParseVAEConfig); err != nil {
			return nil, fmt.Errorf("vae folder %s: %w", path, err)
		}
		if weights, err = weightsFile(path, "diffusion_pytorch_model", variant); err != nil {
			return nil, fmt.Errorf("vae folder %s: %w", path, err)
		}
	} else if ext := strings.ToLower(filepath.Ext(path)); ext != ".safetensors" {
		return nil, fmt.Errorf("vae %s: want a .safetensors file or a diffusers vae folder (%s files are not read)", path, ext)
	}
	if v.file, err = safetensors.Open(weights); err != nil {
		return nil, fmt.Errorf("vae: %w", err)
	}
	ok := false
	for _, n := range v.file.Names() {
		for _, c := range []struct {
			prefix, probe string
			ldm           bool
		}{
			{singleVAEPrefix, "encoder.down.", true}, {"", "encoder.down.", true},
			{"", "encoder.down_blocks.", false}, {"vae.", "encoder.down_blocks.", false},
		} {
			if strings.HasPrefix(n, c.prefix+c.probe) {
				v.prefix, v.ldm, ok = c.prefix, c.ldm, true
			}
		}
		if ok {
			break
		}
	}
	if !ok {
		v.file.Close()
		return nil, fmt.Errorf("vae %s: no VAE encoder tensors (encoder.down.* or encoder.down_blocks.*)", weights)
	}
	if v.sha256, err = FileSHA256(weights); err != nil {
		v.file.Close()
		return nil, fmt.Errorf("vae: %w", err)
	}
	return v, nil
}

// replaceShapes returns shapes (a single-file checkpoint's tensor shapes
// by name) with its VAE tensors replaced by the external VAE's, named as a
// single-file checkpoint names them ("first_stage_model.encoder.down.0..."),
// for InferSingleFileConfigs; diffusers names are translated as far as the
// inference reads them (down blocks and their resnets). infos are the VAE
// file's tensors.
func (v *vaeFile) replaceShapes(shapes map[string][]int, infos []safetensors.TensorInfo) map[string][]int {
	out := make(map[string][]int, len(shapes)+len(infos))
	for n, s := range shapes {
		if !strings.HasPrefix(n, singleVAEPrefix) {
			out[n] = s
		}
	}
	for _, info := range infos {
		rest, ok := strings.CutPrefix(info.Name, v.prefix)
		if !ok {
			continue
		}
		if !v.ldm {
			rest = diffusersDownBlock.ReplaceAllString(rest, "encoder.down.$1.block.$2.")
		}
		out[singleVAEPrefix+rest] = info.Shape
	}
	return out
}

// diffusersDownBlock is a diffusers VAE encoder resnet's name prefix.
var diffusersDownBlock = regexp.MustCompile(`^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.`)

// source maps the VAE's tensors to "vae/<diffusers name>" for the model's
// VAE config cfg; tensors of other components in the file are skipped.
func (v *vaeFile) source(cfg **VAEConfig) tensorSource {
	return tensorSource{file: v.file, key: func(name string) (string, bool) {
		rest, ok := strings.CutPrefix(name, v.prefix)
		if !ok {
			return "", false
		}
		if !v.ldm {
			return ComponentVAE + "/" + rest, true
		}
		d, ok := vaeSingleName(rest, *cfg)
		return ComponentVAE + "/" + d, ok
	}}
}

// lacksVAE reports whether a single-file file holds a checkpoint's UNet
// but no VAE tensors (other files fail as "not a Stable Diffusion 1.x
// checkpoint" instead).
func lacksVAE(f *safetensors.File) bool {
	unet := false
	for _, n := range f.Names() {
		if strings.HasPrefix(n, singleVAEPrefix) {
			return false
		}
		unet = unet || strings.HasPrefix(n, singleUNetPrefix)
	}
	return unet
}

// useVAE records the external VAE on m (VAEPath, VAEHash).
func (m *Model) useVAE(path string, v *vaeFile) {
	m.VAEPath, m.VAESHA256, m.VAEHash = path, v.sha256, v.sha256[:10]
}
