package adi

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/disintegration/imaging"
)

func TestPrepareContrastCacheAndUserImages(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"01.png", "02.png"} {
		writePNG(t, filepath.Join(dir, n), 16, 16)
	}
	ex, err := LoadExemplars([]string{dir}, "<x>", 16, FitCrop, "a man {} in a park")
	if err != nil {
		t.Fatal(err)
	}
	var prompts []string
	render := func(ctx context.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error) {
		if strength != 0.6 {
			t.Errorf("strength %v", strength)
		}
		prompts = append(prompts, prompt)
		return imaging.Invert(img), nil
	}
	opts := ContrastOptions{Seed: 7}
	neg, err := PrepareContrast(context.Background(), ex, "sit", opts, "hash", FitCrop, render, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(neg) != 2 || len(neg[0]) != 2 || len(neg[1]) != 2 || len(prompts) != 4 {
		t.Fatalf("negatives %d/%d/%d, renders %d", len(neg), len(neg[0]), len(neg[1]), len(prompts))
	}
	for _, p := range prompts {
		if !strings.HasPrefix(p, "a man ") || !strings.HasSuffix(p, " in a park") || strings.Contains(p, "sitting") || strings.Contains(p, "{}") {
			t.Errorf("negative prompt %q", p)
		}
	}
	if c := neg[0][0].NRGBAAt(0, 0); c.R != 0 || c.B != 255 { // inverted red
		t.Errorf("negative pixel %v", c)
	}
	cached, _ := filepath.Glob(filepath.Join(dir, ".kata-contrast", "*.png"))
	if len(cached) != 4 {
		t.Errorf("%d cached files", len(cached))
	}
	// Second run: everything from the cache.
	prompts = nil
	if _, err := PrepareContrast(context.Background(), ex, "sit", opts, "hash", FitCrop, render, nil); err != nil || len(prompts) != 0 {
		t.Errorf("second run rendered %d images (err %v)", len(prompts), err)
	}
	// Another base model invalidates the cache key.
	if _, err := PrepareContrast(context.Background(), ex, "sit", opts, "other", FitCrop, render, nil); err != nil || len(prompts) != 4 {
		t.Errorf("other model rendered %d images (err %v)", len(prompts), err)
	}
	// User images take precedence: 01-stand.png belongs to 01, the other is shared.
	udir := t.TempDir()
	writePNG(t, filepath.Join(udir, "01-stand.png"), 20, 16)
	writePNG(t, filepath.Join(udir, "wave.png"), 16, 16)
	prompts = nil
	opts.UserImages = []string{filepath.Join(udir, "01-stand.png"), filepath.Join(udir, "wave.png")}
	neg, err = PrepareContrast(context.Background(), ex, "sit", opts, "hash", FitCrop, render, nil)
	if err != nil || len(prompts) != 0 || len(neg[0]) != 1 || len(neg[1]) != 1 || neg[0][0] == neg[1][0] {
		t.Errorf("user images: err %v, renders %d, %d/%d", err, len(prompts), len(neg[0]), len(neg[1]))
	}
	// No renderer and nothing supplied: a clear error.
	os.RemoveAll(filepath.Join(dir, ".kata-contrast"))
	if _, err := PrepareContrast(context.Background(), ex, "", ContrastOptions{}, "h", FitCrop, nil, nil); err == nil {
		t.Errorf("no renderer: no error")
	}
}
