package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUProfile runs a sub-command with KATA_CPUPROFILE set: a good path
// gets a gzip-compressed pprof profile, a path that cannot be created stops
// the command with status 1 and names the variable.
func TestCPUProfile(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path string
		wantCode   int
		wantStderr string
	}{
		{"written", filepath.Join(dir, "cpu.pprof"), 0, ""},
		{"missing folder", filepath.Join(dir, "no", "such", "cpu.pprof"), 1, profileEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(profileEnv, tc.path)
			code, _, stderr := runMain("version")
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
				t.Fatalf("status %d, stderr %q; want %d and %q", code, stderr, tc.wantCode, tc.wantStderr)
			}
			if tc.wantCode != 0 {
				return
			}
			b, err := os.ReadFile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
				t.Errorf("profile starts %x, want gzip's 1f8b", b[:min(len(b), 4)])
			}
		})
	}
}
