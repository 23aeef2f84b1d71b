package store

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Exports are documents for other programs and other users of the machine:
// the atomic writer must not leave them private like a temp file.
func TestWriteFileAtomicIsReadable(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits")
	}
	path := filepath.Join(t.TempDir(), "sheet.png")
	if err := WriteFileAtomic(path, []byte("data")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o644 {
		t.Fatalf("mode %v, want 0644", got)
	}
	data, err := os.ReadFile(path)
	if err != nil || string(data) != "data" {
		t.Fatalf("read back %q, %v", data, err)
	}
}
