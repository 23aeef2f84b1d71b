//go:build cgo && ((linux && amd64) || darwin) && !noxla

package backend

import (
	"fmt"
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

// newXLA creates the XLA backend. On CUDA the client gets opts (see
// XLAOptions): by default no preallocation, since PJRT would otherwise
// reserve 75% of the GPU's memory at start-up, which starves the desktop and
// any other program on a designer's GPU.
func newXLA(plugin string, opts XLAOptions) (backends.Backend, error) {
	xla.EnableAutoInstall(false)
	return xla.NewWithOptions(plugin, pjrt.NamedValuesMap(opts.clientOptions(plugin)))
}

// pluginInfo loads plugin (without creating a client) and describes it.
func pluginInfo(name string) PluginInfo {
	info := PluginInfo{Name: name}
	p, err := pjrt.GetPlugin(name)
	if err != nil {
		info.Err = err.Error()
		return info
	}
	major, minor := p.Version()
	info.Path, info.APIVersion = p.Path(), fmt.Sprintf("%d.%d", major, minor)
	for k, v := range p.Attributes() {
		if info.Attributes == nil {
			info.Attributes = map[string]string{}
		}
		info.Attributes[k] = fmt.Sprint(v)
	}
	return info
}
