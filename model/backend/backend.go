// Package backend chooses and creates the GoMLX compute backend Kata runs on.
//
// Kata prefers XLA/PJRT when a PJRT plugin is installed (and the binary was built
// with cgo), and otherwise uses GoMLX's pure-Go backend ("simplego") completed with
// the ops and gradients Stable Diffusion training needs (see gobackend.go) and,
// on amd64, faster DotGeneral/ConvGeneral kernels (see kernels.go).
package backend

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// EnvBackend is the environment variable read when New or Resolve get an empty setting.
const EnvBackend = "KATA_BACKEND"

// Selection describes the compute backend Kata uses.
type Selection struct {
	// Name is a human-readable name, e.g. "go (pure Go, AVX2+FMA kernels)" or "xla:cuda".
	Name string
	// Reason says why this backend was chosen (or why the preferred one was not).
	Reason string
}

// plan is the resolved decision behind a Selection.
type plan struct {
	sel    Selection
	xla    string // PJRT plugin name ("cpu", "cuda", ...) when XLA is used; "" for pure Go.
	errMsg string // non-empty when the setting cannot be satisfied.
}

// Resolve reports which backend New(setting) would use without creating it.
// setting "" means the KATA_BACKEND environment variable, else "auto".
// Values: "auto" (XLA/PJRT when a plugin is installed, else pure Go), "go", "xla",
// "xla:cuda", "xla:cpu". An unknown or unsatisfiable setting gives Name "none"
// and the reason New will fail.
func Resolve(setting string) Selection {
	return resolve(setting).sel
}

// New creates the backend chosen as described by Resolve. It never crashes when no
// PJRT plugin exists: "auto" falls back to pure Go; an explicit "xla..." setting
// returns an error saying what is missing.
func New(setting string) (backends.Backend, error) {
	p := resolve(setting)
	if p.errMsg != "" {
		return nil, fmt.Errorf("backend %q: %s", effectiveSetting(setting), p.errMsg)
	}
	if p.xla != "" {
		b, err := newXLA(p.xla)
		if err != nil {
			return nil, fmt.Errorf("backend xla:%s: %w", p.xla, err)
		}
		return b, nil
	}
	return newGo()
}

// PureGo reports whether b is the pure-Go backend New creates (or GoMLX's
// simplego itself): callers size their work for the CPU on it, e.g. run a batch
// one sample at a time to bound memory.
func PureGo(b backends.Backend) bool {
	switch b.(type) {
	case *goBackend, *simplego.Backend:
		return true
	}
	return false
}

func effectiveSetting(setting string) string {
	setting = strings.TrimSpace(strings.ToLower(setting))
	if setting == "" {
		setting = strings.TrimSpace(strings.ToLower(os.Getenv(EnvBackend)))
	}
	if setting == "" {
		setting = "auto"
	}
	return setting
}

func resolve(setting string) plan {
	s := effectiveSetting(setting)
	goSel := func(reason string) plan {
		return plan{sel: Selection{Name: goBackendName(), Reason: reason}}
	}
	fail := func(msg string) plan {
		return plan{sel: Selection{Name: "none", Reason: msg}, errMsg: msg}
	}
	switch s {
	case "go":
		return goSel("pure Go requested")
	case "auto":
		if !xlaLinked() {
			return goSel("XLA support not compiled in (" + xlaMissingReason() + "); using pure Go")
		}
		plugins := xlaPlugins()
		if len(plugins) == 0 {
			return goSel("no PJRT plugin found (set PJRT_PLUGIN_LIBRARY_PATH to a folder holding one); using pure Go")
		}
		return plan{sel: Selection{Name: "xla:" + plugins[0], Reason: "PJRT plugin " + plugins[0] + " found"}, xla: plugins[0]}
	case "xla", "xla:cpu", "xla:cuda":
		if !xlaLinked() {
			return fail("XLA support not compiled in: " + xlaMissingReason())
		}
		plugins := xlaPlugins()
		want := strings.TrimPrefix(strings.TrimPrefix(s, "xla"), ":")
		if want == "" {
			if len(plugins) == 0 {
				return fail("no PJRT plugin found (set PJRT_PLUGIN_LIBRARY_PATH to a folder holding one)")
			}
			want = plugins[0]
		} else if !contains(plugins, want) {
			return fail(fmt.Sprintf("PJRT plugin %q not found (found %q; set PJRT_PLUGIN_LIBRARY_PATH to a folder holding pjrt_c_api_%s_plugin.so)", want, plugins, want))
		}
		return plan{sel: Selection{Name: "xla:" + want, Reason: "requested " + s}, xla: want}
	default:
		return fail(fmt.Sprintf("unknown backend setting (valid: auto, go, xla, xla:cpu, xla:cuda; from argument or $%s)", EnvBackend))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
