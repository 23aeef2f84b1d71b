package app

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/sd"
	"kata/store"
)

// ModelInfo is a base model the library knows.
type ModelInfo struct {
	ID   int64
	Name string
	Path string
	Kind string // "diffusers" or "single-file"
	Hash string
	// Builtin is the model Kata ships (listed first as BuiltinModelName).
	Builtin bool
}

// engine is one loaded model with what runs it. Kata keeps at most one: an
// SD 1.5 model takes about 4 GiB in float32.
type engine struct {
	modelID  int64
	setting  string // the Kata.Backend it was made with
	backend  backends.Backend
	model    *sd.Model
	pipeline *sd.Pipeline
	base     adi.Base
	vae      string    // the external VAE it was loaded with ("" for the checkpoint's)
	loras    loraState // LoRAs merged into model (generate.go)
}

func (e *engine) close() {
	_ = e.loras.restore()
	e.pipeline.Finalize()
	e.model.Finalize()
}

// Models lists the base models added to the library.
func (k *Kata) Models() ([]ModelInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	ms, err := k.lib.Models(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ModelInfo, len(ms))
	for i, m := range ms {
		out[i] = modelInfo(m)
	}
	return builtinFirst(out, builtinPath()), nil
}

func modelInfo(m store.Model) ModelInfo {
	return ModelInfo{ID: m.ID, Name: m.Name, Path: m.Path, Kind: m.Kind, Hash: m.Hash}
}

// AddModel loads the Stable Diffusion 1.x model at path (a diffusers folder
// or a single-file checkpoint) to check it, keeps it loaded, and records it in
// the library. Loading SD 1.5 takes seconds to minutes; progress (may be nil)
// reports tensors loaded.
func (k *Kata) AddModel(path string, progress func(done, total int)) (ModelInfo, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return ModelInfo{}, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m, err := sd.Load(abs, &sd.LoadOptions{Progress: progress, VAE: k.VAE()})
	if err != nil {
		return ModelInfo{}, vaeHint(err)
	}
	ctx, cancel := opContext()
	defer cancel()
	row, err := k.lib.PutModel(ctx, store.Model{Path: abs, Kind: m.Format, Hash: m.Hash, Name: modelName(abs)})
	if err != nil {
		m.Finalize()
		return ModelInfo{}, err
	}
	if err := k.useModelLocked(row.ID, m); err != nil {
		return ModelInfo{}, err
	}
	return modelInfo(row), nil
}

// engineFor returns the loaded engine of a library model, loading it (and
// unloading another) when needed. The caller holds k.mu.
func (k *Kata) engineFor(modelID int64) (*engine, error) {
	vae := k.VAE()
	if k.eng != nil && k.eng.modelID == modelID && k.eng.vae == vae && k.eng.setting == k.Backend() {
		return k.eng, nil
	}
	ctx, cancel := opContext()
	defer cancel()
	row, err := k.lib.Model(ctx, modelID)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(row.Path); err != nil {
		return nil, fmt.Errorf("model %s: %w", row.Name, err)
	}
	m, err := sd.Load(row.Path, &sd.LoadOptions{VAE: vae})
	if err != nil {
		return nil, vaeHint(err)
	}
	if err := k.useModelLocked(modelID, m); err != nil {
		return nil, err
	}
	return k.eng, nil
}

// useModelLocked makes m the loaded engine, freeing the previous one.
func (k *Kata) useModelLocked(modelID int64, m *sd.Model) error {
	setting := k.Backend()
	b, sel, err := backend.Open(setting)
	if err != nil {
		m.Finalize()
		return err
	}
	k.choicesMu.Lock()
	k.inUse = sel.String()
	k.choicesMu.Unlock()
	p, err := sd.NewPipeline(b, m)
	if err != nil {
		m.Finalize()
		return err
	}
	base, err := adi.NewBase(b, m, adi.BaseOptions{Pipeline: p, PreviewPrompt: TrainPreviewPrompt})
	if err != nil {
		p.Finalize()
		m.Finalize()
		return err
	}
	if k.eng != nil {
		k.eng.close()
	}
	k.eng = &engine{modelID: modelID, setting: setting, backend: b, model: m, pipeline: p, base: base, vae: m.VAEPath}
	return nil
}

// vaeHint adds to sd.ErrNoVAE where Kata chooses a VAE.
func vaeHint(err error) error {
	if errors.Is(err, sd.ErrNoVAE) {
		return fmt.Errorf("%w (kata generate --vae FILE|DIR, or the VAE menu of the window)", err)
	}
	return err
}

// SetVAE chooses the VAE the window's generations use: a single-file VAE
// or a diffusers vae folder, "" for each checkpoint's own. The loaded model
// is reloaded with it at the next generation or training.
func (k *Kata) SetVAE(path string) error {
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("vae: %w", err)
		}
		path = abs
	}
	k.choicesMu.Lock()
	defer k.choicesMu.Unlock()
	k.vae = path
	return nil
}

// VAE returns the VAE chosen with SetVAE ("" for the checkpoint's own).
func (k *Kata) VAE() string {
	k.choicesMu.Lock()
	defer k.choicesMu.Unlock()
	return k.vae
}

// SetLoRADir chooses the folder where the window's "<lora:name:w>" tags
// find their files ("" for the default, see LoRADir).
func (k *Kata) SetLoRADir(dir string) {
	k.choicesMu.Lock()
	defer k.choicesMu.Unlock()
	k.loraDir = dir
}

// LoRAFolder returns the LoRA folder the window's generations use (the
// SetLoRADir choice or its default; "" for none).
func (k *Kata) LoRAFolder() string {
	k.choicesMu.Lock()
	defer k.choicesMu.Unlock()
	return LoRADir(k.loraDir)
}
