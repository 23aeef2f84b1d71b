package sd

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/safetensors"
)

// Model is a loaded Stable Diffusion 1.x model: its configs and a context
// holding every weight as a float32 variable (scopes text_encoder/, unet/,
// vae/; the configs are context parameters, see SetConfigs).
type Model struct {
	// Ctx holds the weights; pass it (or ctx.Reuse() of it) to the graph builders.
	Ctx *context.Context

	Text *TextConfig
	UNet *UNetConfig
	VAE  *VAEConfig

	// Path is what Load was given; Format is "diffusers" or "single-file".
	Path, Format string
	// TokenizerDir is the diffusers tokenizer/ folder, empty for a single
	// file (SD 1.x uses the stock CLIP tokenizer then).
	TokenizerDir string
	// SchedulerConfig is the raw scheduler/scheduler_config.json of a
	// diffusers folder, nil for a single file.
	SchedulerConfig []byte
	// SHA256 is the hex SHA-256 of the checkpoint file (single file) or of
	// the UNet weights file (diffusers folder); Hash is its first 10 hex
	// digits, AUTOMATIC1111's "Model hash" for single files.
	SHA256, Hash string
}

// LoadOptions adjust Load; the zero value is valid.
type LoadOptions struct {
	// ConfigDir is a diffusers folder whose unet/, vae/ and text_encoder/
	// configs describe a single-file checkpoint. Without it the configs are
	// inferred from the tensor shapes with SD 1.x conventions (32 norm
	// groups, 8 UNet heads, 64-wide text encoder heads).
	ConfigDir string
	// Variant "fp16" prefers the *.fp16.safetensors files of a diffusers
	// folder (converted to float32) over full-precision ones. Empty prefers
	// full-precision files; either falls back to the other when absent.
	Variant string
}

// Load reads an SD 1.x model from a diffusers folder (model_index.json,
// text_encoder/, unet/, vae/, tokenizer/, scheduler/) or a single-file
// checkpoint (.safetensors with model.diffusion_model.*, first_stage_model.*
// and cond_stage_model.transformer.* tensors). F16 and BF16 weights are
// converted to float32. A model lacking any tensor the configs call for is an
// error that names the missing tensors.
func Load(path string, opts *LoadOptions) (*Model, error) {
	if opts == nil {
		opts = &LoadOptions{}
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	var m *Model
	if st.IsDir() {
		m, err = loadDiffusers(path, opts)
	} else {
		m, err = loadSingleFile(path, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// tensorSource is one safetensors file and how its names map to variable keys.
type tensorSource struct {
	file *safetensors.File
	key  func(name string) (string, bool)
}

func loadDiffusers(dir string, opts *LoadOptions) (*Model, error) {
	if _, err := os.Stat(filepath.Join(dir, "model_index.json")); err != nil {
		return nil, fmt.Errorf("not a diffusers folder: %w", err)
	}
	text, unet, vae, err := readDiffusersConfigs(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{Text: text, UNet: unet, VAE: vae, Path: dir, Format: "diffusers"}
	var sources []tensorSource
	defer func() {
		for _, s := range sources {
			s.file.Close()
		}
	}()
	for _, c := range []struct{ component, sub, base string }{
		{ComponentText, "text_encoder", "model"},
		{ComponentUNet, "unet", "diffusion_pytorch_model"},
		{ComponentVAE, "vae", "diffusion_pytorch_model"},
	} {
		p, err := weightsFile(filepath.Join(dir, c.sub), c.base, opts.Variant)
		if err != nil {
			return nil, err
		}
		f, err := safetensors.Open(p)
		if err != nil {
			return nil, err
		}
		component := c.component
		sources = append(sources, tensorSource{file: f, key: func(name string) (string, bool) {
			return component + "/" + name, true
		}})
		if c.component == ComponentUNet {
			if m.SHA256, err = fileSHA256(p); err != nil {
				return nil, err
			}
		}
	}
	if err := m.loadVariables(sources); err != nil {
		return nil, err
	}
	if st, err := os.Stat(filepath.Join(dir, "tokenizer", "vocab.json")); err == nil && !st.IsDir() {
		m.TokenizerDir = filepath.Join(dir, "tokenizer")
	}
	if data, err := os.ReadFile(filepath.Join(dir, "scheduler", "scheduler_config.json")); err == nil {
		m.SchedulerConfig = data
	}
	m.Hash = m.SHA256[:10]
	return m, nil
}

// weightsFile picks base.safetensors or base.fp16.safetensors in dir.
func weightsFile(dir, base, variant string) (string, error) {
	full := filepath.Join(dir, base+".safetensors")
	half := filepath.Join(dir, base+".fp16.safetensors")
	candidates := []string{full, half}
	switch variant {
	case "":
	case "fp16":
		candidates = []string{half, full}
	default:
		return "", fmt.Errorf("unknown weights variant %q (want \"\" or \"fp16\")", variant)
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("no weights in %s: want %s", dir, strings.Join(candidates, " or "))
}

func readDiffusersConfigs(dir string) (*TextConfig, *UNetConfig, *VAEConfig, error) {
	text, err := readJSONConfig(filepath.Join(dir, "text_encoder", "config.json"), ParseTextConfig)
	if err != nil {
		return nil, nil, nil, err
	}
	unet, err := readJSONConfig(filepath.Join(dir, "unet", "config.json"), ParseUNetConfig)
	if err != nil {
		return nil, nil, nil, err
	}
	vae, err := readJSONConfig(filepath.Join(dir, "vae", "config.json"), ParseVAEConfig)
	if err != nil {
		return nil, nil, nil, err
	}
	return text, unet, vae, nil
}

func loadSingleFile(path string, opts *LoadOptions) (*Model, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &Model{Path: path, Format: "single-file"}
	if opts.ConfigDir != "" {
		m.Text, m.UNet, m.VAE, err = readDiffusersConfigs(opts.ConfigDir)
	} else {
		m.Text, m.UNet, m.VAE, err = inferSingleFileConfigs(f)
	}
	if err != nil {
		return nil, err
	}
	src := tensorSource{file: f, key: func(name string) (string, bool) {
		c, d, ok := SingleFileName(name, m.UNet, m.VAE)
		return c + "/" + d, ok
	}}
	if err := m.loadVariables([]tensorSource{src}); err != nil {
		return nil, err
	}
	if m.SHA256, err = fileSHA256(path); err != nil {
		return nil, err
	}
	m.Hash = m.SHA256[:10]
	return m, nil
}

// loadVariables creates one variable per tensor the configs call for, reading
// it from whichever source holds it.
func (m *Model) loadVariables(sources []tensorSource) error {
	want, err := ModelVariables(m.Text, m.UNet, m.VAE)
	if err != nil {
		return err
	}
	type location struct {
		file *safetensors.File
		name string
	}
	found := make(map[string]location, len(want))
	for _, s := range sources {
		for _, name := range s.file.Names() {
			key, ok := s.key(name)
			if !ok {
				continue
			}
			if _, needed := want[key]; needed {
				found[key] = location{s.file, name}
			}
		}
	}
	var missing []string
	for key := range want {
		if _, ok := found[key]; !ok {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		shown := missing
		if len(shown) > 10 {
			shown = shown[:10]
		}
		return fmt.Errorf("not a Stable Diffusion 1.x model for these configs: %d of %d tensors missing: %s%s",
			len(missing), len(want), strings.Join(shown, ", "), map[bool]string{true: ", ...", false: ""}[len(missing) > 10])
	}
	ctx := context.New()
	SetConfigs(ctx, m.Text, m.UNet, m.VAE)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		loc := found[key]
		info, _ := loc.file.Info(loc.name)
		shape := singleFileShape(key, info.Shape)
		if !slices.Equal(shape, want[key]) {
			return fmt.Errorf("tensor %s (%s) has shape %v, the configs call for %v", loc.name, key, info.Shape, want[key])
		}
		data, _, err := loc.file.Float32(loc.name)
		if err != nil {
			return fmt.Errorf("tensor %s: %w", loc.name, err)
		}
		vctx, name := variableForKey(ctx, key)
		vctx.VariableWithValue(name, tensors.FromFlatDataAndDimensions(data, shape...)).SetTrainable(false)
	}
	m.Ctx = ctx.Reuse()
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// singleFileShape converts the shape of a single-file tensor to the shape of
// the diffusers variable key: the VAE attention projections are 1x1 convs
// ([C, C, 1, 1]) in LDM checkpoints and linears ([C, C]) in diffusers.
func singleFileShape(key string, shape []int) []int {
	if strings.HasPrefix(key, ComponentVAE+"/") && strings.Contains(key, ".attentions.") &&
		strings.HasSuffix(key, ".weight") && len(shape) == 4 && shape[2] == 1 && shape[3] == 1 {
		return shape[:2]
	}
	return shape
}

// errNotSD marks single files whose layout is not an SD 1.x checkpoint.
var errNotSD = errors.New("not a Stable Diffusion 1.x checkpoint")

// inferSingleFileConfigs derives the configs of a single-file checkpoint from
// its tensor shapes; what shapes cannot tell (norm groups, head counts) takes
// the SD 1.x values.
func inferSingleFileConfigs(f *safetensors.File) (*TextConfig, *UNetConfig, *VAEConfig, error) {
	shape := func(name string) []int {
		info, ok := f.Info(name)
		if !ok {
			return nil
		}
		return info.Shape
	}
	has := func(prefix string) bool {
		for _, n := range f.Names() {
			if strings.HasPrefix(n, prefix) {
				return true
			}
		}
		return false
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
