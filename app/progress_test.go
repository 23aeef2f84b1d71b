package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressLines checks the non-terminal mode: a line when it starts,
// then at most one per progressEvery, and the last count at the end.
func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := newProgress(&buf, 1000, "training")
	p.now = func() time.Time { return clock }
	p.start = clock
	for i := 1; i <= 999; i++ {
		clock = clock.Add(100 * time.Millisecond) // 100 s in all: one line per 5 s
		p.Set(i)
	}
	p.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 19 || len(lines) > 22 {
		t.Errorf("%d lines for 100 s of progress, want about 21:\n%s", len(lines), buf.String())
	}
	if !strings.HasPrefix(lines[0], "training: 1/1000 (0%)") || !strings.Contains(lines[1], "left") ||
		!strings.HasPrefix(lines[len(lines)-1], "training: 999/1000") {
		t.Errorf("lines %q ... %q", lines[:2], lines[len(lines)-1])
	}
	if strings.Contains(buf.String(), "\r") {
		t.Errorf("line mode redraws: %q", buf.String())
	}
}

// TestOutputFolderFirst checks that commands refuse an output folder they
// cannot write before loading a model or reading photos.
func TestOutputFolderFirst(t *testing.T) {
	dir := t.TempDir()
	// A folder under a plain file cannot be made, not even by root.
	ro := filepath.Join(dir, "file")
	if err := os.WriteFile(ro, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"generate", "--model", filepath.Join(dir, "no-model"), "--prompt", "x", "--out", filepath.Join(ro, "sub", "x.png")},
		{"train", "--model", filepath.Join(dir, "no-model"), "--images", filepath.Join(dir, "no-photos"), "--name", "x",
			"--out", filepath.Join(ro, "x.safetensors")},
	} {
		code, _, stderr := runMain(args...)
		if code != 1 || !strings.Contains(stderr, "output folder") {
			t.Errorf("%s: exit %d, stderr %q; want the output folder named before the model or photos", args[0], code, stderr)
		}
	}
	// A folder that does not exist yet is made.
	if err := ensureDir(filepath.Join(dir, "a", "b")); err != nil {
		t.Error(err)
	}
}
