package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A file truncated while mapped gives ErrChanged, not SIGBUS, whether the
// reader copies raw bytes (pread: F32 and F16 as stored) or converts from
// the mapping (F16 to float32), and wherever the file was cut.
func TestTruncatedWhileMapped(t *testing.T) {
	n := 1 << 16 // 256 KiB of F32 data: well past the header's page
	for _, c := range []struct {
		name string
		keep func(size int64) int64 // the length the file is cut to
	}{
		{"to nothing", func(int64) int64 { return 0 }},
		{"inside the data", func(size int64) int64 { return size - 3*4096 }}, // whole pages past the new end
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "w.safetensors")
			if err := Write(p, []Tensor{F32Tensor("w", []int{n}, make([]float32, n)), F16Tensor("x", []int{n}, make([]float32, n))}, nil); err != nil {
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
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, c.keep(st.Size())); err != nil {
				t.Fatal(err)
			}
			// Tensors are stored in name order: x (F16) ends the file.
			if _, _, err := f.Float32("x"); !errors.Is(err, ErrChanged) {
				t.Errorf("Float32 (converted) of a truncated mapping: %v", err)
			}
			if _, err := f.HalfInto("x", make([]uint16, n)); !errors.Is(err, ErrChanged) {
				t.Errorf("HalfInto of a truncated mapping: %v", err)
			}
			if c.keep(st.Size()) == 0 {
				if err := f.Float32Into("w", make([]float32, n)); !errors.Is(err, ErrChanged) {
					t.Errorf("Float32Into of a truncated mapping: %v", err)
				}
			}
		})
	}
}
