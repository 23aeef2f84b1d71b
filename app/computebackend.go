package app

import (
	"fmt"
	"io"
	"slices"

	"github.com/gomlx/gomlx/backends"

	"kata/model/backend"
)

// BackendChoice is one compute backend the window offers.
type BackendChoice struct {
	Label   string // "Automatic", "CPU", "GPU (CUDA)"
	Setting string // model/backend setting: "auto", "go", "xla:cuda"
}

// BackendChoices are the compute backends the window offers, automatic first.
var BackendChoices = []BackendChoice{
	{"Automatic", "auto"},
	{"CPU", "go"},
	{"GPU (CUDA)", "xla:cuda"},
}

// Backend is the compute backend setting models load with: the one given to
// SetBackend, else "" ($KATA_BACKEND, else automatic).
func (k *Kata) Backend() string {
	k.choicesMu.Lock()
	defer k.choicesMu.Unlock()
	return k.backend
}

// SetBackend chooses the compute backend (a BackendChoice's Setting) for the
// models loaded from now on and describes what it resolves to on this
// computer ("go (pure Go, AVX2+FMA kernels)"). A setting this computer cannot
// satisfy is refused with the reason, and the choice stays as it was.
func (k *Kata) SetBackend(setting string) (string, error) {
	if !slices.ContainsFunc(BackendChoices, func(c BackendChoice) bool { return c.Setting == setting }) {
		return "", fmt.Errorf("unknown compute backend %q", setting)
	}
	sel := backend.Resolve(setting)
	if sel.Name == "none" {
		return "", fmt.Errorf("compute backend %s: %s", setting, sel.Reason)
	}
	k.choicesMu.Lock()
	defer k.choicesMu.Unlock()
	k.backend = setting
	return describeSelection(sel), nil
}

// DetectBackend describes what each choice resolves to here, in
// BackendChoices' order, so Settings can say what was detected.
func DetectBackend() []string {
	out := make([]string, len(BackendChoices))
	for i, c := range BackendChoices {
		out[i] = describeSelection(backend.Resolve(c.Setting))
	}
	return out
}

func describeSelection(s backend.Selection) string { return s.String() }

// backendFlagUsage is the help text of every command's --backend flag.
const backendFlagUsage = "compute backend: auto, go, xla... (default $" + backend.EnvBackend + " or auto)"

// OpenBackend creates the compute backend for setting ("" for
// $KATA_BACKEND, else automatic; see backend.Open) and writes the one line a
// command shows on stderr: "backend NAME (why)", plus "; WARNING: ..." when
// the GPU failed to initialise and Kata fell back to the CPU.
func OpenBackend(setting string, stderr io.Writer) (backends.Backend, error) {
	b, sel, err := backend.Open(setting)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	if stderr != nil {
		fmt.Fprintf(stderr, "backend %s\n", sel)
	}
	return b, nil
}

// BackendInUse describes the backend the loaded model runs on, for the
// window to show ("go (pure Go, AVX2+FMA kernels) (auto-detected ...)",
// with the fallback warning when there was one); "" before a model is
// loaded.
func (k *Kata) BackendInUse() string {
	k.choicesMu.Lock()
	defer k.choicesMu.Unlock()
	return k.inUse
}
