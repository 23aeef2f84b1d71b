package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"

	"kata/model/backend/gemm"
)

// PluginInfo describes one PJRT plugin this binary can see.
type PluginInfo struct {
	Name       string            `json:"name"`                  // "cuda", "cpu", ...
	Path       string            `json:"path,omitempty"`        // the shared library loaded
	APIVersion string            `json:"api_version,omitempty"` // PJRT C API version, "0.71"
	Attributes map[string]string `json:"attributes,omitempty"`  // the plugin's own (xla_version, stablehlo versions, ...)
	Err        string            `json:"error,omitempty"`       // why it could not be loaded
}

// Plugins lists the PJRT plugins found (CUDA first; none in a binary built
// without cgo), each loaded, without creating a client, to read its path,
// API version and attributes. It installs nothing.
func Plugins() []PluginInfo {
	var out []PluginInfo
	for _, name := range xlaPlugins() {
		out = append(out, pluginInfo(name))
	}
	return out
}

// Devices describes each device of b as its backend does (for XLA, the
// PJRT device description: the GPU's name and ids).
func Devices(b backends.Backend) []string {
	var out []string
	for i := range b.NumDevices() {
		out = append(out, b.DeviceDescription(backends.DeviceNum(i)))
	}
	return out
}

// GEMMKernels returns the matrix-multiplication micro-kernel the pure-Go
// backend uses ("avx512", "avx2" or "go") and those this CPU can run, best
// first (model/backend/gemm picks the best by CPUID).
func GEMMKernels() (inUse string, available []string) {
	return gemm.Kernel(), gemm.Available()
}

// CUDAPluginHelp says how to get the PJRT CUDA plugin onto a computer that
// has none: GoMLX's installer (it needs internet and Go), or a plugin that
// is already there (JAX's) named where go-xla looks.
const CUDAPluginHelp = `No PJRT CUDA plugin was found, so Kata computes on the CPU.
To train and generate on an NVIDIA GPU (driver installed, internet needed once):
  1. Install Go 1.26 or newer (https://go.dev/dl/), then run GoMLX's installer:
       go run github.com/gomlx/go-xla/cmd/pjrt_installer@latest -autoinstall
     It puts pjrt_c_api_cuda_plugin.so and the CUDA libraries it needs under
     ~/.local/lib/go-xla/nvidia, where Kata looks.
  2. Or use a plugin already installed (e.g. JAX's jax_plugins/xla_cuda*/xla_cuda_plugin.so):
     link it as pjrt_c_api_cuda_plugin.so into a folder and set
     PJRT_PLUGIN_LIBRARY_PATH to that folder.
  3. Run kata doctor again: it should list the plugin and the GPU.`

// CPUFeatures lists the SIMD extensions of this CPU that matter to the
// pure-Go backend's kernels, each "NAME yes" or "NAME no" (on amd64: AVX2,
// FMA, AVX-512F, AVX-512BF16, F16C); on other CPUs one entry saying none are
// used.
func CPUFeatures() []string {
	var out []string
	for _, f := range cpuFeatures() {
		out = append(out, fmt.Sprintf("%s %s", f.name, yesNo(f.has)))
	}
	return out
}

type cpuFeature struct {
	name string
	has  bool
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
