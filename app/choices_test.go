package app

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestChoicesDoNotWaitForModelWork checks that the window's choices (VAE,
// LoRA folder, compute backend) are made and read while a training run or
// a generation holds the model lock: the window calls them and must not
// hang for the rest of the run.
func TestChoicesDoNotWaitForModelWork(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	vae := filepath.Join(t.TempDir(), "vae.safetensors")
	if err := os.WriteFile(vae, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock() // as Train and Generate hold it
	defer k.mu.Unlock()
	for _, tc := range []struct {
		name string
		do   func() error
	}{
		{"SetVAE", func() error { return k.SetVAE(vae) }},
		{"VAE", func() error { _ = k.VAE(); return nil }},
		{"SetVAE own", func() error { return k.SetVAE("") }},
		{"SetLoRADir", func() error { k.SetLoRADir(t.TempDir()); return nil }},
		{"LoRAFolder", func() error { _ = k.LoRAFolder(); return nil }},
		{"SetBackend", func() error { _, err := k.SetBackend(BackendChoices[0].Setting); return err }},
		{"Backend", func() error { _ = k.Backend(); return nil }},
	} {
		done := make(chan error, 1)
		go func() { done <- tc.do() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s waits for the model lock", tc.name)
		}
	}
	if got := k.VAE(); got != "" {
		t.Errorf("VAE after choosing the checkpoint's own: %q", got)
	}
}
