package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenPickle builds the first bytes of the two layouts torch.save writes
// (PyTorch's serialization notes: a zip archive holding archive/data.pkl
// since 1.6; before that a bare pickle starting with PROTO 2) and checks
// that both are named as pickles, while a truncated safetensors file is not.
func TestOpenPickle(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name   string
		data   []byte
		pickle bool
	}{
		{"zip.pt", append([]byte("PK\x03\x04\x00\x00\x08\x08\x00\x00"), []byte("archive/data.pkl")...), true},
		{"legacy.pt", []byte("\x80\x02\x8a\x0alZ\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03."), true},
		{"truncated.safetensors", []byte("\x40\x00\x00\x00\x00\x00\x00\x00{\"a\":"), false},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Open(p)
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: err %v, want ErrInvalid", c.name, err)
		}
		if got := errors.Is(err, ErrPickle); got != c.pickle {
			t.Errorf("%s: errors.Is(ErrPickle) = %v, want %v (%v)", c.name, got, c.pickle, err)
		}
	}
}
