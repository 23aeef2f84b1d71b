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
	// Warning is set by Open when the chosen GPU backend failed to initialise
	// and Kata fell back to pure Go: what failed, for the user to see.
	Warning string
}

// String is the one line Kata shows for a selection: "name (reason)",
// followed by "; WARNING: ..." when Open fell back.
func (s Selection) String() string {
	out := s.Name
	if s.Reason != "" {
		out += " (" + s.Reason + ")"
	}
	if s.Warning != "" {
		out += "; WARNING: " + s.Warning
	}
	return out
}

// plan is the resolved decision behind a Selection.
type plan struct {
	setting string // the effective setting ("auto", "go", "xla:cuda", ...)
	sel     Selection
	xla     string // PJRT plugin name ("cpu", "cuda", ...) when XLA is used; "" for pure Go.
	errMsg  string // non-empty when the setting cannot be satisfied.
}

// Resolve reports which backend New(setting) would use without creating it.
// setting "" means the KATA_BACKEND environment variable, else "auto".
// Values: "auto" (XLA/PJRT when a plugin is installed, else pure Go), "go", "xla",
// "xla:cuda", "xla:cpu". An unknown or unsatisfiable setting gives Name "none"
// and the reason New will fail.
func Resolve(setting string) Selection {
	return resolve(setting).sel
}

// New creates the backend chosen as described by Resolve; it is Open
// without the Selection.
func New(setting string) (backends.Backend, error) {
	b, _, err := Open(setting)
	return b, err
}

// Open creates the backend chosen as described by Resolve and returns the
// Selection it ended with. It never crashes when no PJRT plugin exists or a
// plugin fails to start: "auto" falls back to pure Go, with
// Selection.Warning saying what failed; an explicit "xla..." setting returns
// an error saying what is missing or what failed (the user asked for that
// device, and a test that asks for the GPU must not pass on the CPU). The
// CUDA client takes its allocator settings from XLAOptionsFromEnv.
func Open(setting string) (backends.Backend, Selection, error) {
	return openPlan(resolve(setting))
}

// openPlan creates the backend of a resolved plan (see Open).
func openPlan(p plan) (backends.Backend, Selection, error) {
	if p.errMsg != "" {
		return nil, p.sel, fmt.Errorf("backend %q: %s", p.setting, p.errMsg)
	}
	if p.xla == "" {
		b, err := newGo()
		return b, p.sel, err
	}
	opts, err := XLAOptionsFromEnv()
	if err == nil {
		var b backends.Backend
		if b, err = openXLA(p.xla, opts); err == nil {
			return b, p.sel, nil
		}
	}
	err = fmt.Errorf("backend xla:%s: %w", p.xla, err)
	if p.setting != "auto" {
		return nil, p.sel, err
	}
	b, gerr := newGo()
	if gerr != nil {
		return nil, p.sel, fmt.Errorf("%w (and the pure-Go fallback failed: %v)", err, gerr)
	}
	sel := Selection{Name: goBackendName(), Reason: "fallback: PJRT plugin " + p.xla + " failed to start", Warning: err.Error()}
	return b, sel, nil
}

// openXLA creates an XLA backend; tests replace it to simulate a plugin
// that fails to start.
var openXLA = newXLA

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

// effectiveSetting returns the setting in force and where it came from:
// the argument, $KATA_BACKEND, or the default "auto".
func effectiveSetting(setting string) (value, source string) {
	if v := strings.TrimSpace(strings.ToLower(setting)); v != "" {
		return v, "setting"
	}
	if v := strings.TrimSpace(strings.ToLower(os.Getenv(EnvBackend))); v != "" {
		return v, "$" + EnvBackend
	}
	return "auto", "default"
}

func resolve(setting string) plan {
	s, source := effectiveSetting(setting)
	goSel := func(reason string) plan {
		return plan{setting: s, sel: Selection{Name: goBackendName(), Reason: reason}}
	}
	fail := func(msg string) plan {
		return plan{setting: s, sel: Selection{Name: "none", Reason: msg}, errMsg: msg}
	}
	forced := fmt.Sprintf("forced by %s=%s", source, s)
	switch s {
	case "go":
		return goSel("pure Go " + forced)
	case "auto":
		if !xlaLinked() {
			return goSel("XLA support not compiled in (" + xlaMissingReason() + "); using pure Go")
		}
		plugins := xlaPlugins()
		if len(plugins) == 0 {
			return goSel("no PJRT plugin found (kata doctor says how to install the CUDA one); using pure Go")
		}
		return plan{setting: s, sel: Selection{Name: "xla:" + plugins[0], Reason: "auto-detected PJRT plugin " + plugins[0]}, xla: plugins[0]}
	case "xla", "xla:cpu", "xla:cuda":
		if !xlaLinked() {
			return fail("XLA support not compiled in: " + xlaMissingReason())
		}
		plugins := xlaPlugins()
		want := strings.TrimPrefix(strings.TrimPrefix(s, "xla"), ":")
		if want == "" {
			if len(plugins) == 0 {
				return fail("no PJRT plugin found (set PJRT_PLUGIN_LIBRARY_PATH to a folder holding one; kata doctor says how to install the CUDA one)")
			}
			want = plugins[0]
		} else if !contains(plugins, want) {
			return fail(fmt.Sprintf("PJRT plugin %q not found (found %q; set PJRT_PLUGIN_LIBRARY_PATH to a folder holding pjrt_c_api_%s_plugin.so)", want, plugins, want))
		}
		return plan{setting: s, sel: Selection{Name: "xla:" + want, Reason: forced}, xla: want}
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
