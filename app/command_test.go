package app

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = Main(context.Background(), args, Env{Stdout: &out, Stderr: &errOut})
	return code, out.String(), errOut.String()
}

func TestMain(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "no args opens the window", args: nil, wantCode: -1},
		{name: "help lists commands", args: []string{"--help"}, wantCode: 0,
			wantStdout: []string{"Usage:", "version", "Commands:"}},
		{name: "version", args: []string{"version"}, wantCode: 0,
			wantStdout: []string{"kata " + Version, "go go1.", "backend "}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2,
			wantStderr: []string{`unknown command "frobnicate"`, "Commands:"}},
		{name: "bad flag is a usage error", args: []string{"version", "--nope"}, wantCode: 2,
			wantStderr: []string{"flag provided but not defined"}},
		{name: "command help", args: []string{"version", "--help"}, wantCode: 0,
			wantStderr: []string{"Usage: kata version"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// The window, `kata version` and `fyne package` must agree on the version.
func TestVersionMatchesFyneAppToml(t *testing.T) {
	data, err := os.ReadFile("../FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*Version\s*=\s*"([^"]+)"`).FindSubmatch(data)
	if m == nil {
		t.Fatal("FyneApp.toml has no Version")
	}
	if string(m[1]) != Version {
		t.Fatalf("FyneApp.toml Version %q != app.Version %q", m[1], Version)
	}
}

func TestVersionReportsBackendChoice(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	_, stdout, _ := runMain("version")
	if !strings.Contains(stdout, "backend go") {
		t.Fatalf("KATA_BACKEND=go not reflected:\n%s", stdout)
	}
}
