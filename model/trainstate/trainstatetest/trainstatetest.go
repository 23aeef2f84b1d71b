// Package trainstatetest holds the checks the tests of every Kata training
// checkpoint format share: a golden file written by an earlier version
// saves again to the same bytes, and a copy of it with one metadata value
// damaged is refused.
package trainstatetest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"kata/model/safetensors"
)

// SameBytes calls save with a path in a temporary folder and fails t unless
// the file it writes has exactly the bytes of golden.
func SameBytes(t *testing.T, golden string, save func(path string) error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "again.safetensors")
	if err := save(path); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("saving again wrote %d bytes that differ from the %d of %s", len(got), len(want), golden)
	}
}

// WithMetadata writes a copy of the safetensors file src, its tensors
// unchanged and its metadata key set to value, into a temporary folder and
// returns its path.
func WithMetadata(t *testing.T, src, key, value string) string {
	t.Helper()
	f, err := safetensors.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	for _, info := range f.Infos() {
		data, err := f.Bytes(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, safetensors.Tensor{Name: info.Name, DType: info.DType, Shape: info.Shape,
			Data: bytes.Clone(data)})
	}
	meta := f.Metadata()
	meta[key] = value
	path := filepath.Join(t.TempDir(), "damaged.safetensors")
	if err := safetensors.Write(path, ts, meta); err != nil {
		t.Fatal(err)
	}
	return path
}
