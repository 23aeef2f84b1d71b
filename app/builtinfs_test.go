package app

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

func TestShippedModelDir(t *testing.T) {
	fsys := fstest.MapFS{
		"model_index.json":  {Data: []byte(`{"_class_name":"StableDiffusionPipeline"}`)},
		"unet/config.json":  {Data: []byte(`{}`)},
		"unet/weights.bin":  {Data: make([]byte, 1000)},
		"vae/config.json":   {Data: []byte(`{"a":1}`)},
		"tokenizer/v.json":  {Data: []byte(`[]`)},
		"scheduler/s.json":  {Data: []byte(`{}`)},
		"text_encoder/c.js": {Data: []byte(`x`)},
	}
	cache := t.TempDir()
	dir, err := shippedModelDir(fsys, cache)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "unet", "weights.bin"))
	if err != nil || len(got) != 1000 {
		t.Fatalf("unet weights: %d bytes, %v", len(got), err)
	}
	// Same content: same folder, nothing rewritten.
	st, _ := os.Stat(filepath.Join(dir, "model_index.json"))
	again, err := shippedModelDir(fsys, cache)
	if err != nil || again != dir {
		t.Fatalf("second call: %s, %v; want %s", again, err, dir)
	}
	if st2, _ := os.Stat(filepath.Join(dir, "model_index.json")); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("an intact copy was rewritten")
	}
	// A truncated file (a damaged cache) is replaced.
	if err := os.Truncate(filepath.Join(dir, "unet", "weights.bin"), 10); err != nil {
		t.Fatal(err)
	}
	if again, err = shippedModelDir(fsys, cache); err != nil || again != dir {
		t.Fatalf("after truncation: %s, %v", again, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "unet", "weights.bin")); len(got) != 1000 {
		t.Fatalf("truncated file not restored: %d bytes", len(got))
	}
	// Other content: another folder.
	fsys["unet/weights.bin"] = &fstest.MapFile{Data: make([]byte, 999)}
	if other, err := shippedModelDir(fsys, cache); err != nil || other == dir {
		t.Fatalf("other weights: %s, %v", other, err)
	}
	// No temporary folders left behind.
	entries, _ := os.ReadDir(cache)
	if len(entries) != 2 {
		t.Errorf("cache holds %d entries, want the 2 model folders", len(entries))
	}
	if _, err := shippedModelDir(fstest.MapFS{}, cache); err == nil {
		t.Error("an empty model was accepted")
	}
}
