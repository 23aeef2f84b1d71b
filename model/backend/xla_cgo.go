//go:build cgo && ((linux && amd64) || darwin) && !noxla

package backend

import (
	"slices"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// xlaLinked reports whether this binary can load PJRT plugins (dlopen needs cgo).
func xlaLinked() bool { return true }

func xlaMissingReason() string { return "" }

// xlaPlugins lists installed PJRT plugins, CUDA first, without downloading any:
// Kata never installs plugins behind the user's back. go-xla searches
// PJRT_PLUGIN_LIBRARY_PATH (":"-separated) or, when unset, the standard folders.
// GoMLX orders them by xla.DefaultPlugins (cuda, cpu) and caches the list.
func xlaPlugins() []string {
	xla.EnableAutoInstall(false)
	return slices.Clone(xla.GetAvailablePlugins())
}

// newXLA creates the XLA backend. On CUDA it asks the plugin not to
// preallocate: by default PJRT reserves 75% of the GPU's memory at start-up,
// which starves the desktop and any other program on a designer's GPU; Kata
// lets the pool grow as graphs need it instead.
func newXLA(plugin string) (backends.Backend, error) {
	xla.EnableAutoInstall(false)
	var options pjrt.NamedValuesMap
	if plugin == "cuda" {
		options = pjrt.NamedValuesMap{"preallocate": false}
	}
	return xla.NewWithOptions(plugin, options)
}
