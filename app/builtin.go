package app

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"kata/assets"
)

// BuiltinModelName is how the window lists the model Kata ships.
const BuiltinModelName = "Kata World (built-in)"

// EnvBuiltinModel overrides the built-in model: a folder or checkpoint to
// use instead of the shipped one (development, tests), or "none" for a
// build without one (the first-run screens of a model-less build).
const EnvBuiltinModel = "KATA_BUILTIN_MODEL"

// shippedModel is the diffusers folder this build embeds (assets), nil when
// it ships none.
var shippedModel fs.FS = assets.WorldModel()

// BuiltinModelPath is where the built-in model lives, "" when this build has
// none: $KATA_BUILTIN_MODEL when set, else the shipped model, written once
// to the user's cache folder (see shippedModelDir). An error writing it
// there is printed once and leaves Kata without a built-in model.
var BuiltinModelPath = func() string {
	switch p := Getenv(EnvBuiltinModel); p {
	case "none":
		return ""
	case "":
		return shippedPath()
	default:
		return p
	}
}

var shipped struct {
	once sync.Once
	path string
}

// shippedPath is shippedModel's folder in the cache, "" when there is none.
func shippedPath() string {
	if shippedModel == nil {
		return ""
	}
	shipped.once.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		p, err := shippedModelDir(shippedModel, filepath.Join(cache, "kata"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "kata:", err)
			return
		}
		shipped.path = p
	})
	return shipped.path
}

// ErrNoBuiltinModel is returned when a command that defaults to the
// built-in model gets no --model and this build has none.
var ErrNoBuiltinModel = errors.New("no --model given and this build has no built-in model: pass --model PATH (a diffusers folder or single-file checkpoint)")

// modelOrBuiltin returns path, or the built-in model's when path is "".
func modelOrBuiltin(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	if p := builtinPath(); p != "" {
		return p, nil
	}
	return "", ErrNoBuiltinModel
}

// builtinPath is BuiltinModelPath made absolute, "" when there is none or it
// does not exist.
func builtinPath() string {
	p := BuiltinModelPath()
	if p == "" {
		return ""
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if _, err := os.Stat(abs); err != nil {
		return ""
	}
	return abs
}

// AddBuiltinModel records the built-in model in the library the first time
// (loading it once to check it; progress as for AddModel) and returns it.
// ok is false, with no error, when this build has no built-in model.
func (k *Kata) AddBuiltinModel(progress func(done, total int)) (info ModelInfo, ok bool, err error) {
	path := builtinPath()
	if path == "" {
		return ModelInfo{}, false, nil
	}
	models, err := k.Models()
	if err != nil {
		return ModelInfo{}, false, err
	}
	for _, m := range models {
		if m.Builtin {
			return m, true, nil
		}
	}
	info, err = k.AddModel(path, progress)
	if err != nil {
		return ModelInfo{}, false, err
	}
	return builtinFirst([]ModelInfo{info}, path)[0], true, nil
}

// builtinFirst marks the model at path (the built-in one, "" for none) and
// moves it to the front; models are told apart by path, never by name.
func builtinFirst(models []ModelInfo, path string) []ModelInfo {
	if path == "" {
		return models
	}
	for i := range models {
		if models[i].Path == path {
			models[i].Builtin = true
			models[i].Name = BuiltinModelName
		}
	}
	slices.SortStableFunc(models, func(a, b ModelInfo) int {
		return cmp.Compare(boolRank(a.Builtin), boolRank(b.Builtin))
	})
	return models
}

func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}
