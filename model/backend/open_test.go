package backend

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
)

// TestOpenFallsBack: a PJRT plugin that fails to start makes "auto" fall
// back to pure Go with a warning naming the failure, while an explicit
// "xla:cuda" setting is an error, never a crash.
func TestOpenFallsBack(t *testing.T) {
	saved := openXLA
	defer func() { openXLA = saved }()
	openXLA = func(plugin string, _ XLAOptions) (backends.Backend, error) {
		return nil, errors.New("dlopen pjrt_c_api_" + plugin + "_plugin.so: invalid ELF header")
	}
	cuda := Selection{Name: "xla:cuda", Reason: "auto-detected PJRT plugin cuda"}
	for _, c := range []struct {
		setting string
		wantErr bool
	}{{"auto", false}, {"xla:cuda", true}} {
		b, sel, err := openPlan(plan{setting: c.setting, sel: cuda, xla: "cuda"})
		if c.wantErr {
			if err == nil || !strings.Contains(err.Error(), "invalid ELF header") {
				t.Errorf("%s: err %v, want the plugin's failure", c.setting, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.setting, err)
		}
		if !PureGo(b) || !strings.HasPrefix(sel.Name, "go (pure Go") {
			t.Errorf("%s: fell back to %s (%T), want pure Go", c.setting, sel.Name, b)
		}
		if !strings.Contains(sel.Warning, "invalid ELF header") || !strings.Contains(sel.String(), "WARNING: ") {
			t.Errorf("%s: selection %q does not warn about the failed plugin", c.setting, sel)
		}
	}
	// Bad allocator settings are refused before any plugin is touched.
	t.Setenv(EnvXLAMemFraction, "1.5")
	if _, _, err := openPlan(plan{setting: "auto", sel: cuda, xla: "cuda"}); err != nil {
		t.Errorf("auto with a bad memory fraction: %v, want the pure-Go fallback", err)
	}
	if _, _, err := openPlan(plan{setting: "xla:cuda", sel: cuda, xla: "cuda"}); err == nil || !strings.Contains(err.Error(), "memory fraction") {
		t.Errorf("xla:cuda with a bad memory fraction: err %v", err)
	}
}

// TestBogusPluginFile puts a file that is not a shared library where go-xla
// looks for the CUDA plugin and opens the backend in a child process (go-xla
// reads PJRT_PLUGIN_LIBRARY_PATH once, when it starts): pure Go, no crash,
// with and without cgo; an explicit xla:cuda is an error.
func TestBogusPluginFile(t *testing.T) {
	if os.Getenv("KATA_BOGUS_PLUGIN_CHILD") == "1" {
		b, sel, err := Open("auto")
		if err != nil {
			t.Fatalf("Open(auto): %v", err)
		}
		t.Logf("selection: %s", sel)
		if !PureGo(b) {
			t.Fatalf("backend %T, want pure Go", b)
		}
		// go-xla dlopens each candidate while listing plugins and drops the
		// bogus one, so auto finds no plugin; a plugin that is listed but
		// fails to start takes Open's fallback (TestOpenFallsBack).
		if plugins := xlaPlugins(); len(plugins) > 0 && sel.Warning == "" {
			t.Fatalf("plugins %v listed, no warning: %s", plugins, sel)
		}
		if _, _, err := Open("xla:cuda"); err == nil {
			t.Fatalf("Open(xla:cuda) with a bogus plugin succeeded")
		}
		return
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pjrt_c_api_cuda_plugin.so"), []byte("not a shared library\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestBogusPluginFile$", "-test.v")
	cmd.Env = append(os.Environ(), "KATA_BOGUS_PLUGIN_CHILD=1", "PJRT_PLUGIN_LIBRARY_PATH="+dir, EnvBackend+"=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "selection: go (pure Go") {
		t.Errorf("child output lacks the selection:\n%s", out)
	}
	t.Logf("%s", out)
}

func TestXLAOptions(t *testing.T) {
	for _, c := range []struct {
		prealloc, frac, alloc string
		want                  map[string]any
		wantErr               bool
	}{
		{"", "", "", map[string]any{"preallocate": false}, false},
		{"true", "0.5", "platform", map[string]any{"preallocate": true, "memory_fraction": float32(0.5), "allocator": "platform"}, false},
		{"", "0.9", " BFC ", map[string]any{"preallocate": false, "memory_fraction": float32(0.9), "allocator": "bfc"}, false},
		{"maybe", "", "", nil, true},
		{"", "0", "", map[string]any{"preallocate": false}, false},
		{"", "1.5", "", nil, true},
		{"", "half", "", nil, true},
		{"", "", "tlsf", nil, true},
	} {
		t.Setenv(EnvXLAPreallocate, c.prealloc)
		t.Setenv(EnvXLAMemFraction, c.frac)
		t.Setenv(EnvXLAAllocator, c.alloc)
		o, err := XLAOptionsFromEnv()
		if (err != nil) != c.wantErr {
			t.Errorf("%+v: err %v, want error %v", c, err, c.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		got := o.clientOptions("cuda")
		if len(got) != len(c.want) {
			t.Errorf("%+v: options %v, want %v", c, got, c.want)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%+v: option %s = %v (%T), want %v (%T)", c, k, got[k], got[k], v, v)
			}
		}
		if o.clientOptions("cpu") != nil {
			t.Errorf("the CPU plugin gets options %v", o.clientOptions("cpu"))
		}
	}
}

func TestResolveSaysWhy(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv(EnvBackend, "go")
	if r := Resolve("").Reason; !strings.Contains(r, "$KATA_BACKEND=go") {
		t.Errorf("reason %q does not name the environment variable", r)
	}
	if r := Resolve("go").Reason; !strings.Contains(r, "setting=go") {
		t.Errorf("reason %q does not name the setting", r)
	}
	t.Setenv(EnvBackend, "")
	if r := Resolve("").Reason; !strings.Contains(r, "pure Go") {
		t.Errorf("automatic choice without a plugin: reason %q", r)
	}
}
