//go:build !(cgo && ((linux && amd64) || darwin) && !noxla)

package backend

import (
	"errors"

	"github.com/gomlx/gomlx/backends"
)

// xlaLinked reports whether this binary can load PJRT plugins: without cgo it cannot.
func xlaLinked() bool { return false }

func xlaMissingReason() string {
	return "this binary was built without cgo (or with -tags noxla); rebuild with CGO_ENABLED=1 to use PJRT plugins"
}

func xlaPlugins() []string { return nil }

func newXLA(string, XLAOptions) (backends.Backend, error) {
	return nil, errors.New(xlaMissingReason())
}

func pluginInfo(name string) PluginInfo {
	return PluginInfo{Name: name, Err: xlaMissingReason()}
}
