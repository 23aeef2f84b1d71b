package sd

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/safetensors"
	"kata/model/scheduler"
	"kata/model/tokenizer"
)

// Model is a loaded Stable Diffusion 1.x model: its configs and a context
// holding every weight as a variable (scopes text_encoder/, unet/, vae/; the
// configs are context parameters, see SetConfigs). Weights are float32, or,
// loaded with LoadOptions.Precision "stored", float16/bfloat16 as the
// checkpoint stores them (the graphs widen them where they are read).
type Model struct {
	// Ctx holds the weights; pass it (or ctx.Reuse() of it) to the graph builders.
	Ctx *context.Context

	Text *TextConfig
	UNet *UNetConfig
	VAE  *VAEConfig

	// Path is what Load was given; Format is "diffusers" or "single-file".
	Path, Format string
	// Tokenizer is the model's CLIP tokenizer: a diffusers folder's
	// tokenizer/, else the stock one SD 1.x uses (tokenizer.Default). It is
	// shared; whoever adds identifier tokens does so on a Clone.
	Tokenizer *tokenizer.Tokenizer
	// Scheduler is the noise schedule: a diffusers folder's
	// scheduler/scheduler_config.json, else scheduler.DefaultConfig().
	Scheduler scheduler.Config
	// SHA256 is the hex SHA-256 of the checkpoint file (single file) or of
	// the UNet weights file (diffusers folder); Hash is its first 10 hex
	// digits, AUTOMATIC1111's "Model hash" for single files. Load takes it
	// from the hash cache (EnvHashCache) when the file's size and mtime are
	// those it was hashed with, else hashes the file while it reads the
	// weights.
	SHA256, Hash string
	// VAEPath is the external VAE chosen with LoadOptions.VAE ("" for the
	// checkpoint's own); VAESHA256 is the hex SHA-256 of its weights file
	// and VAEHash its first 10 digits, AUTOMATIC1111's "VAE hash".
	VAEPath, VAESHA256, VAEHash string
}

// Finalize frees the weights now instead of at garbage collection; the
// model must not be used afterwards.
func (m *Model) Finalize() {
	if m.Ctx != nil {
		m.Ctx.Finalize()
		m.Ctx = nil
	}
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
	// Progress, if set, is called as tensors are read: done of total.
	Progress func(done, total int)
	// Precision "stored" keeps F16 and BF16 weights in half precision in
	// memory as the checkpoint stores them (half the memory of float32; each
	// graph widens a weight to float32 where an op reads it, so the backend
	// must convert float16: XLA, or the pure-Go backend with Kata's
	// executors, see backend.SupportsHalf). The text encoder's embedding
	// tables stay float32 (identifiers are added to them). "" or "f32"
	// widens every weight to float32 at load; so does EnvWeights=f32,
	// whatever Precision says.
	Precision string
	// Backend, if set, receives each weight as it is read, in a shared
	// buffer where the backend has them (the pure-Go one does): the process
	// then never holds a host copy and a backend copy of the weights at the
	// same time, as it does for a moment at the first execution otherwise.
	// The model's graphs must then run on this backend.
	Backend backends.Backend
	// VAE replaces the checkpoint's VAE (or stands in for a checkpoint
	// without one): a .safetensors file with LDM names (such as
	// vae-ft-mse-840000-ema-pruned.safetensors) or diffusers names, or a
	// diffusers vae folder. Empty uses the checkpoint's; a single-file
	// checkpoint without VAE tensors then fails with ErrNoVAE.
	VAE string
}

// Load reads an SD 1.x model from a diffusers folder (model_index.json,
// text_encoder/, unet/, vae/, tokenizer/, scheduler/) or a single-file
// checkpoint (.safetensors with model.diffusion_model.*, first_stage_model.*
// and cond_stage_model.transformer.* tensors). F16 and BF16 weights are
// converted to float32 unless opts.Precision is "stored". A model lacking any tensor the configs call for is an
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
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case st.IsDir():
	case ext == ".ckpt" || ext == ".pt" || ext == ".pth" || ext == ".bin":
		// Pickle files can run code when read; Kata does not open them.
		return nil, fmt.Errorf("load model %s: %s checkpoints (Python pickle) are not supported: convert to .safetensors", path, ext)
	}
	if st.IsDir() {
		m, err = loadDiffusers(path, opts)
	} else {
		m, err = loadSingleFile(path, opts)
	}
	if err == nil {
		err = m.defaultTextAndSchedule()
	}
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

// defaultTextAndSchedule gives a model without its own tokenizer or
// scheduler config SD 1.x's.
func (m *Model) defaultTextAndSchedule() error {
	if m.Tokenizer == nil {
		var err error
		if m.Tokenizer, err = tokenizer.Default(); err != nil {
			return err
		}
	}
	if m.Scheduler.NumTrainTimesteps == 0 {
		m.Scheduler = scheduler.DefaultConfig()
	}
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
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
	if err := checkDiffusers(dir); err != nil {
		return nil, err
	}
	text, unet, vae, err := readDiffusersConfigs(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{Text: text, UNet: unet, VAE: vae, Path: dir, Format: "diffusers"}
	var sources []tensorSource
	var unetHash func() (string, error)
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
			unetHash = hashAsync(p)
		}
	}
	if opts.VAE != "" {
		v, err := openVAE(opts.VAE, opts.Variant)
		if err != nil {
			return nil, err
		}
		sources = append(sources, v.source(&m.VAE))
		if v.config != nil {
			m.VAE = v.config
		}
		m.useVAE(opts.VAE, v)
	}
	if err := m.loadVariables(sources, opts); err != nil {
		return nil, err
	}
	if st, err := os.Stat(filepath.Join(dir, "tokenizer", "vocab.json")); err == nil && !st.IsDir() {
		if m.Tokenizer, err = tokenizer.Load(filepath.Join(dir, "tokenizer")); err != nil {
			return nil, err
		}
	}
	if p := filepath.Join(dir, "scheduler", "scheduler_config.json"); fileExists(p) {
		if m.Scheduler, err = scheduler.LoadConfig(p); err != nil {
			return nil, err
		}
	}
	if m.SHA256, err = unetHash(); err != nil {
		return nil, err
	}
	m.Hash = m.SHA256[:10]
	return m, nil
}

// DiffusersIdentity returns, without reading any weights, what Load's Model
// would report of the diffusers folder dir with the default variant: its
// SHA256 (the UNet weights file's, from the hash cache where it is there)
// and its VAE config (VAE.ScalingFactor). Resumed training runs that
// started from a folder need only these.
func DiffusersIdentity(dir string) (sha256 string, vae *VAEConfig, err error) {
	if _, err := os.Stat(filepath.Join(dir, "model_index.json")); err != nil {
		return "", nil, fmt.Errorf("not a diffusers folder: %w", err)
	}
	if err := checkDiffusers(dir); err != nil {
		return "", nil, err
	}
	if _, _, vae, err = readDiffusersConfigs(dir); err != nil {
		return "", nil, err
	}
	p, err := weightsFile(filepath.Join(dir, "unet"), "diffusion_pytorch_model", "")
	if err != nil {
		return "", nil, err
	}
	if sha256, err = FileSHA256(p); err != nil {
		return "", nil, err
	}
	return sha256, vae, nil
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
	shapes := make(map[string][]int, f.Len())
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		shapes[n] = info.Shape
	}
	if err := checkSingleFile(shapes); err != nil {
		return nil, err
	}
	var vae *vaeFile
	switch {
	case opts.VAE != "":
		if vae, err = openVAE(opts.VAE, opts.Variant); err != nil {
			return nil, err
		}
		defer vae.file.Close()
		m.useVAE(opts.VAE, vae)
	case lacksVAE(f):
		return nil, ErrNoVAE
	}
	if opts.ConfigDir != "" {
		m.Text, m.UNet, m.VAE, err = readDiffusersConfigs(opts.ConfigDir)
		if err == nil {
			err = m.readConfigDir(opts.ConfigDir)
		}
	} else {
		if vae != nil {
			shapes = vae.replaceShapes(shapes, vae.file.Infos())
		}
		m.Text, m.UNet, m.VAE, err = InferSingleFileConfigs(shapes)
		if err != nil && !errors.Is(err, errNotSD) {
			err = fmt.Errorf("configs inferred with SD 1.x conventions do not fit this checkpoint "+
				"(give its diffusers configs folder): %w", err)
		}
	}
	if err != nil {
		return nil, err
	}
	src := tensorSource{file: f, key: func(name string) (string, bool) {
		c, d, ok := SingleFileName(name, m.UNet, m.VAE)
		return c + "/" + d, ok
	}}
	sources := []tensorSource{src}
	if vae != nil {
		if vae.config != nil {
			m.VAE = vae.config
		}
		sources = append(sources, vae.source(&m.VAE))
	}
	hash := hashAsync(path)
	if err := m.loadVariables(sources, opts); err != nil {
		return nil, err
	}
	if m.SHA256, err = hash(); err != nil {
		return nil, err
	}
	m.Hash = m.SHA256[:10]
	return m, nil
}

// loadVariables creates one variable per tensor the configs call for, reading
// it from whichever source holds it.
func (m *Model) loadVariables(sources []tensorSource, opts *LoadOptions) error {
	if err := m.checkRanges(); err != nil {
		return err
	}
	half, err := keepHalf(opts.Precision)
	if err != nil {
		return err
	}
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
	reads := make([]weightRead, len(keys))
	for i, key := range keys {
		loc := found[key]
		info, _ := loc.file.Info(loc.name)
		shape := singleFileShape(key, info.Shape)
		if !slices.Equal(shape, want[key]) {
			return fmt.Errorf("tensor %s (%s) has shape %v, the configs call for %v", loc.name, key, info.Shape, want[key])
		}
		reads[i] = weightRead{file: loc.file, name: loc.name, shape: shape, half: half && !keepFloat32(key),
			bytes: info.End - info.Begin}
	}
	values, err := readWeights(reads, opts.Backend, opts.Progress)
	if err != nil {
		return err
	}
	for i, key := range keys {
		vctx, name := variableForKey(ctx, key)
		vctx.VariableWithValue(name, values[i]).SetTrainable(false)
	}
	m.Ctx = ctx.Reuse()
	return nil
}

// weightRead is one tensor loadVariables reads: where it is, the shape of
// its variable, whether it stays in half precision, and its size in the
// file.
type weightRead struct {
	file  *safetensors.File
	name  string
	shape []int
	half  bool
	bytes int64
}

// readWeights reads every tensor of reads (readWeight), on GOMAXPROCS
// goroutines, largest first: copying a checkpoint is bound by the page
// faults of the fresh memory it fills, which the cores take in parallel.
// progress, if set, is called with the number of tensors read (0 first,
// len(reads) last), never concurrently. After an error no more tensors
// are started; it returns the error of the first failed tensor in reads'
// order, and no tensors (those read are freed).
func readWeights(reads []weightRead, be backends.Backend, progress func(done, total int)) ([]*tensors.Tensor, error) {
	values := make([]*tensors.Tensor, len(reads))
	errs := make([]error, len(reads))
	order := make([]int, len(reads))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(reads[b].bytes, reads[a].bytes) })
	var (
		mu     sync.Mutex
		done   int
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	if progress != nil {
		progress(0, len(reads))
	}
	jobs := make(chan int)
	for range min(runtime.GOMAXPROCS(0), len(reads)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if failed.Load() {
					continue
				}
				r := reads[i]
				values[i], errs[i] = readWeight(r.file, r.name, r.shape, r.half, be)
				if errs[i] != nil {
					errs[i] = fmt.Errorf("tensor %s: %w", r.name, errs[i])
					failed.Store(true)
					continue
				}
				if progress != nil {
					mu.Lock()
					done++
					progress(done, len(reads))
					mu.Unlock()
				}
			}
		}()
	}
	for _, i := range order {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			for _, v := range values {
				if v != nil {
					v.FinalizeAll()
				}
			}
			return nil, err
		}
	}
	return values, nil
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

// NativeSize is the image side the model was trained at: the UNet's
// sample_size times the VAE factor, as diffusers computes it (512 for SD 1.x,
// 64 for Kata World).
func (m *Model) NativeSize() int { return m.UNet.SampleSize * m.VAE.Factor() }
