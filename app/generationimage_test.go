package app

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGenerationImage(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	dir := t.TempDir()
	damaged := filepath.Join(dir, "damaged.png")
	if err := os.WriteFile(damaged, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		ok         bool
	}{
		{"a PNG", "testdata/builtin-blue-robot.png", true},
		{"missing", filepath.Join(dir, "gone.png"), false},
		{"damaged", damaged, false},
	} {
		img, err := k.GenerationImage(tc.path)
		if (err == nil) != tc.ok || (tc.ok && img.Bounds().Dx() == 0) {
			t.Errorf("%s: image %v, error %v", tc.name, img != nil, err)
		}
	}
}
