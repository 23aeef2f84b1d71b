package contenthash

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHashes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	for _, tc := range []struct{ data, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	} {
		if got := Bytes([]byte(tc.data)); got != tc.want {
			t.Errorf("Bytes(%q) = %s, want %s", tc.data, got, tc.want)
		}
		if err := os.WriteFile(p, []byte(tc.data), 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := File(p); err != nil || got != tc.want {
			t.Errorf("File(%q) = %s, %v; want %s", tc.data, got, err, tc.want)
		}
	}
	if _, err := File(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Errorf("missing file: no error")
	}
}
