package app

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
)

// BuiltinModelName is how the window lists the model Kata ships.
const BuiltinModelName = "Kata World (built-in)"

// EnvBuiltinModel names a folder or checkpoint to use as the built-in model
// (for development and tests, until Kata ships one).
const EnvBuiltinModel = "KATA_BUILTIN_MODEL"

// BuiltinModelPath is where the built-in model lives, "" when this build has
// none: $KATA_BUILTIN_MODEL when set. A build that ships a model replaces it
// (main, before the window opens).
var BuiltinModelPath = func() string { return Getenv(EnvBuiltinModel) }

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
