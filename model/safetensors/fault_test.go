package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A file truncated while mapped gives ErrChanged, not SIGBUS.
func TestTruncatedWhileMapped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.safetensors")
	n := 1 << 16 // 256 KiB of data: well past the header's page
	if err := Write(p, []Tensor{F32Tensor("w", []int{n}, make([]float32, n))}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.release == nil {
		t.Skip("file was read, not mapped, on this system")
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.Float32("w"); !errors.Is(err, ErrChanged) {
		t.Errorf("Float32 of a truncated mapping: %v", err)
	}
	if err := f.Float32Into("w", make([]float32, n)); !errors.Is(err, ErrChanged) {
		t.Errorf("Float32Into of a truncated mapping: %v", err)
	}
}
