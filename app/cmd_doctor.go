package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"kata/model/backend"
)

func init() {
	Register(Command{
		Name:    "doctor",
		Summary: "check the compute setup: backend and why, GPU, PJRT plugins, CPU kernels, memory",
		Run:     runDoctor,
	})
}

// DoctorReport is what `kata doctor` finds; --json prints it as is.
type DoctorReport struct {
	Kata string `json:"kata"`
	Go   string `json:"go"`
	OS   string `json:"os"` // GOOS/GOARCH
	// Backend is the backend the setting resolves to and opens as, with why.
	Backend DoctorBackend `json:"backend"`
	// Devices are the opened backend's devices as it describes them (for
	// XLA: the PJRT device, i.e. the GPU's name).
	Devices []string `json:"devices,omitempty"`
	// GPUs are nvidia-smi's lines "name, memory.total, memory.used, driver"
	// when nvidia-smi is on PATH.
	GPUs []string `json:"gpus,omitempty"`
	// XLACompiledIn is false in a binary built without cgo: it cannot load
	// PJRT plugins at all.
	XLACompiledIn bool                 `json:"xla_compiled_in"`
	PluginSearch  string               `json:"plugin_search"`
	Plugins       []backend.PluginInfo `json:"plugins"`
	XLAOptions    string               `json:"xla_options"` // the CUDA client's allocator settings
	CPU           DoctorCPU            `json:"cpu"`
	GOMAXPROCS    int                  `json:"gomaxprocs"`
	NumCPU        int                  `json:"num_cpu"`
	// RAMTotal and RAMAvailable are bytes (Linux /proc/meminfo MemTotal,
	// MemAvailable); 0 when unknown.
	RAMTotal     int64 `json:"ram_total_bytes"`
	RAMAvailable int64 `json:"ram_available_bytes"`
	// InstallCUDA says how to install the CUDA plugin; set when none is found.
	InstallCUDA string `json:"install_cuda,omitempty"`
}

// DoctorBackend is the backend part of a DoctorReport.
type DoctorBackend struct {
	Setting string `json:"setting"` // as given ("" for $KATA_BACKEND, else automatic)
	Name    string `json:"name"`
	Reason  string `json:"reason"`
	Warning string `json:"warning,omitempty"` // the GPU failed to start; Kata fell back
	Error   string `json:"error,omitempty"`   // the backend could not be opened
}

// DoctorCPU is the pure-Go backend's view of the CPU.
type DoctorCPU struct {
	Features      []string `json:"features"`       // "AVX2 yes", ...
	GEMMKernel    string   `json:"gemm_kernel"`    // micro-kernel in use
	GEMMAvailable []string `json:"gemm_available"` // those this CPU runs, best first
	Kernels       string   `json:"kernels"`        // backend.KernelsStatus
}

func runDoctor(_ context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "doctor", "")
	setting := fs.String("backend", "", "backend setting to check: auto, go, xla... (default $"+backend.EnvBackend+" or auto)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	r := Doctor(*setting)
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		r.WriteText(env.Stdout)
	}
	if r.Backend.Error != "" {
		return fmt.Errorf("backend %q cannot be used: %s", r.Backend.Setting, r.Backend.Error)
	}
	return nil
}

// Doctor inspects the compute setup for a backend setting ("" for
// $KATA_BACKEND, else automatic): it opens the backend (as a model load
// would; a GPU that fails to start shows as a fallback warning or, when
// forced, as the error), lists the PJRT plugins, and reads the CPU's SIMD
// support and the memory. It installs and downloads nothing.
func Doctor(setting string) DoctorReport {
	r := DoctorReport{Kata: Version, Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU()}
	r.Backend.Setting = setting
	b, sel, err := backend.Open(setting)
	r.Backend.Name, r.Backend.Reason, r.Backend.Warning = sel.Name, sel.Reason, sel.Warning
	if err != nil {
		r.Backend.Error = err.Error()
	} else {
		r.Devices = backend.Devices(b)
		b.Finalize()
	}
	r.XLACompiledIn = !strings.Contains(backend.Resolve("xla").Reason, "not compiled in")
	r.PluginSearch = "standard folders (~/.local/lib/go-xla, ~/.local/lib/go-xla/nvidia, /usr/local/lib/go-xla, LD_LIBRARY_PATH)"
	if p := os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"); p != "" {
		r.PluginSearch = "PJRT_PLUGIN_LIBRARY_PATH=" + p
	}
	r.Plugins = backend.Plugins()
	if o, err := backend.XLAOptionsFromEnv(); err != nil {
		r.XLAOptions = err.Error()
	} else {
		r.XLAOptions = o.String()
	}
	hasCUDA := false
	for _, p := range r.Plugins {
		hasCUDA = hasCUDA || (p.Name == "cuda" && p.Err == "")
	}
	if !hasCUDA {
		r.InstallCUDA = backend.CUDAPluginHelp
		if !r.XLACompiledIn {
			r.InstallCUDA += "\nThis kata binary was built without cgo and cannot load any plugin: use a release build (or build with CGO_ENABLED=1)."
		}
	}
	r.GPUs = nvidiaSMI()
	r.CPU.Features = backend.CPUFeatures()
	r.CPU.GEMMKernel, r.CPU.GEMMAvailable = backend.GEMMKernels()
	r.CPU.Kernels = backend.KernelsStatus()
	r.RAMTotal, r.RAMAvailable = memInfo("/proc/meminfo")
	return r
}

// WriteText prints the report for people, one fact a line.
func (r DoctorReport) WriteText(w io.Writer) {
	p := func(k, format string, a ...any) { fmt.Fprintf(w, "%-14s %s\n", k+":", fmt.Sprintf(format, a...)) }
	p("kata", "%s (%s, %s)", r.Kata, r.Go, r.OS)
	setting := r.Backend.Setting
	if setting == "" {
		setting = "(none: $" + backend.EnvBackend + ", else auto)"
	}
	p("setting", "%s", setting)
	p("backend", "%s", r.Backend.Name)
	p("why", "%s", r.Backend.Reason)
	if r.Backend.Warning != "" {
		p("WARNING", "%s", r.Backend.Warning)
	}
	if r.Backend.Error != "" {
		p("ERROR", "%s", r.Backend.Error)
	}
	for i, d := range r.Devices {
		p("device "+strconv.Itoa(i), "%s", d)
	}
	for _, g := range r.GPUs {
		p("nvidia-smi", "%s", g)
	}
	p("XLA/PJRT", "%s", map[bool]string{true: "compiled in", false: "not compiled in (built without cgo)"}[r.XLACompiledIn])
	p("plugin search", "%s", r.PluginSearch)
	if len(r.Plugins) == 0 {
		p("plugins", "none found")
	}
	for _, pl := range r.Plugins {
		if pl.Err != "" {
			p("plugin "+pl.Name, "cannot be loaded: %s", pl.Err)
			continue
		}
		extra := ""
		if v := pl.Attributes["xla_version"]; v != "" {
			extra = ", XLA " + v
		}
		p("plugin "+pl.Name, "%s (PJRT API %s%s)", pl.Path, pl.APIVersion, extra)
	}
	p("XLA allocator", "%s", r.XLAOptions)
	p("CPU SIMD", "%s", strings.Join(r.CPU.Features, ", "))
	p("GEMM kernel", "%s (this CPU runs: %s)", r.CPU.GEMMKernel, strings.Join(r.CPU.GEMMAvailable, ", "))
	p("CPU kernels", "%s", r.CPU.Kernels)
	p("GOMAXPROCS", "%d (CPUs: %d)", r.GOMAXPROCS, r.NumCPU)
	if r.RAMTotal > 0 {
		p("RAM", "%.1f GiB total, %.1f GiB available", gib(r.RAMTotal), gib(r.RAMAvailable))
	} else {
		p("RAM", "unknown on %s", r.OS)
	}
	if r.InstallCUDA != "" {
		fmt.Fprintf(w, "\n%s\n", r.InstallCUDA)
	}
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }

// memInfo reads MemTotal and MemAvailable (bytes) from a /proc/meminfo
// file; zeros when it cannot.
func memInfo(path string) (total, available int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "MemTotal:":
			total = kb << 10
		case "MemAvailable:":
			available = kb << 10
		}
	}
	return total, available
}

// nvidiaSMI returns nvidia-smi's one line per GPU (name, total and used
// memory, driver), or nil when it is not installed or fails.
func nvidiaSMI() []string {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--query-gpu=name,memory.total,memory.used,driver_version", "--format=csv,noheader").Output()
	if err != nil {
		return nil
	}
	var lines []string
	for l := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
