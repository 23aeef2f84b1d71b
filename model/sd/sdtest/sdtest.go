// Package sdtest locates the sd-tiny fixture model that model/sd keeps in its
// testdata folder, so tests of other packages can load it without a copy.
package sdtest

import (
	"os"
	"path/filepath"
	"runtime"
)

// Dir is the absolute path of model/sd/testdata, found from this source
// file's location (valid when tests run from a source checkout).
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return filepath.Join("..", "sd", "testdata")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// TinyDir is the sd-tiny diffusers folder: random weights with the SD 1.5
// topology and tiny widths, plus reference.safetensors / reference.json with
// diffusers outputs (see reference.json for every entry).
func TinyDir() string { return filepath.Join(Dir(), "sd-tiny") }

// TinySingleFile is the same model as one single-file checkpoint
// (model.diffusion_model.*, first_stage_model.*, cond_stage_model.*).
func TinySingleFile() string { return filepath.Join(TinyDir(), "sd-tiny-single.safetensors") }

// SD15Layout is the JSON listing of every SD 1.5 tensor name and shape.
func SD15Layout() string { return filepath.Join(Dir(), "sd15-layout.json") }

// EnvBackend names the backend the fixture tests run on: unset means "go"
// (the pure-Go backend with Kata's kernels, as CI runs them); "xla:cuda" runs
// the same parity checks through a PJRT plugin on a GPU machine.
const EnvBackend = "KATA_TEST_BACKEND"

// Backend is the backend setting (see backend.Resolve) for fixture tests.
func Backend() string {
	if s := os.Getenv(EnvBackend); s != "" {
		return s
	}
	return "go"
}
