//go:build cgo && ((linux && amd64) || darwin) && !noxla

package backend

import (
	"slices"

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

func newXLA(plugin string) (backends.Backend, error) {
	xla.EnableAutoInstall(false)
	return xla.New(plugin)
}
