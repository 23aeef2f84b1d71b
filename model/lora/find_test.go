package lora

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"detail.safetensors", "styles/ink.safetensors", "styles/twin.safetensors", "old/twin.safetensors", "notes.txt", "pickle.pt"} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		"detail": "detail.safetensors", "ink": "styles/ink.safetensors", "styles/ink": "styles/ink.safetensors",
		"styles/twin": "styles/twin.safetensors",
	} {
		got, err := Find(dir, name)
		if err != nil || got != filepath.Join(dir, filepath.FromSlash(want)) {
			t.Errorf("Find(%q) = %q, %v; want %s", name, got, err, want)
		}
	}
	for name, msg := range map[string]string{"twin": "2 files match", "notes": "no notes.safetensors", "pickle": "no pickle", "../x": "not a LoRA name", "": "not a LoRA name"} {
		if _, err := Find(dir, name); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Find(%q): %v, want an error with %q", name, err, msg)
		}
	}
}
