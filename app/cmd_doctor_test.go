package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"kata/model/backend"
)

func TestDoctor(t *testing.T) {
	// No plugin can be found, whatever this machine has installed.
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	for _, c := range []struct {
		name     string
		env      string
		args     []string
		wantCode int
		want     []string
	}{
		{"auto", "", []string{"doctor"}, 0,
			[]string{"backend:", "go (pure Go", "why:", "GEMM kernel:", "CPU SIMD:", "GOMAXPROCS:", "pjrt_installer", "PJRT_PLUGIN_LIBRARY_PATH"}},
		{"forced by flag", "", []string{"doctor", "--backend", "go"}, 0, []string{"forced by setting=go"}},
		{"forced by env", "go", []string{"doctor"}, 0, []string{"forced by $KATA_BACKEND=go"}},
		{"missing GPU", "", []string{"doctor", "--backend", "xla:cuda"}, 1, []string{"ERROR:", "pjrt_installer"}},
		{"unknown", "", []string{"doctor", "--backend", "tpu"}, 1, []string{"unknown backend setting"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(backend.EnvBackend, c.env)
			code, stdout, stderr := runMain(c.args...)
			if code != c.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.wantCode, stdout, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv(backend.EnvBackend, "")
	code, stdout, stderr := runMain("doctor", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r DoctorReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if r.GOMAXPROCS != runtime.GOMAXPROCS(0) || r.NumCPU != runtime.NumCPU() {
		t.Errorf("gomaxprocs %d cpus %d", r.GOMAXPROCS, r.NumCPU)
	}
	if !strings.HasPrefix(r.Backend.Name, "go (pure Go") || r.Backend.Reason == "" || r.Backend.Error != "" {
		t.Errorf("backend %+v", r.Backend)
	}
	if inUse, _ := backend.GEMMKernels(); r.CPU.GEMMKernel != inUse || len(r.CPU.Features) == 0 {
		t.Errorf("cpu %+v", r.CPU)
	}
	if r.InstallCUDA == "" || len(r.Plugins) != 0 {
		t.Errorf("no plugin: install help %q, plugins %v", r.InstallCUDA, r.Plugins)
	}
	if runtime.GOOS == "linux" && (r.RAMTotal <= 0 || r.RAMAvailable <= 0 || r.RAMAvailable > r.RAMTotal) {
		t.Errorf("RAM total %d available %d", r.RAMTotal, r.RAMAvailable)
	}
}

func TestMemInfo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meminfo")
	data := "MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   12288000 kB\nBogus: x kB\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	total, avail := memInfo(path)
	if total != 24576000<<10 || avail != 12288000<<10 {
		t.Errorf("memInfo = %d, %d", total, avail)
	}
	if total, avail := memInfo(filepath.Join(t.TempDir(), "none")); total != 0 || avail != 0 {
		t.Errorf("missing file: %d, %d", total, avail)
	}
}

func TestOpenBackendSaysWhich(t *testing.T) {
	t.Setenv(backend.EnvBackend, "")
	var errOut strings.Builder
	b, err := OpenBackend("go", &errOut)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if got := errOut.String(); !strings.HasPrefix(got, "backend go (pure Go") || strings.Count(got, "\n") != 1 {
		t.Errorf("stderr %q, want one line naming the backend", got)
	}
	if _, err := OpenBackend("tpu", &errOut); err == nil {
		t.Errorf("OpenBackend(tpu): no error")
	}
}
