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
	ex, err := fitExemplars([]Exemplar{{Image: testImage(16, 16)}, {Image: testImage(16, 16)}}, "<x>", 16, FitCrop, "a man {} in a park")
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
	cache := filepath.Join(t.TempDir(), "contrast")
	opts := ContrastOptions{Seed: 7, CacheDir: cache}
	neg, err := prepareContrast(context.Background(), ex, "sit", opts, "hash", FitCrop, render, nil)
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
	cached, _ := filepath.Glob(filepath.Join(cache, "*.png"))
	if len(cached) != 4 {
		t.Errorf("%d cached files", len(cached))
	}
	// Cache names start with the exemplar's pixel hash, not a file name.
	for _, c := range cached {
		if !strings.HasPrefix(filepath.Base(c), ex[0].hash[:16]+"-") {
			t.Errorf("cache file %s not keyed by the exemplar's hash", c)
		}
	}
	// Second run: everything from the cache.
	prompts = nil
	if _, err := prepareContrast(context.Background(), ex, "sit", opts, "hash", FitCrop, render, nil); err != nil || len(prompts) != 0 {
		t.Errorf("second run rendered %d images (err %v)", len(prompts), err)
	}
	// Another base model invalidates the cache key.
	if _, err := prepareContrast(context.Background(), ex, "sit", opts, "other", FitCrop, render, nil); err != nil || len(prompts) != 4 {
		t.Errorf("other model rendered %d images (err %v)", len(prompts), err)
	}
	// No cache folder: rendered, nothing written.
	prompts = nil
	if _, err := prepareContrast(context.Background(), ex, "sit", ContrastOptions{Seed: 7}, "hash", FitCrop, render, nil); err != nil || len(prompts) != 4 {
		t.Errorf("without a cache rendered %d images (err %v)", len(prompts), err)
	}
	// User images take precedence: the first belongs to exemplar 1, the other is shared.
	prompts = nil
	opts.UserImages = []ContrastImage{{Image: testImage(20, 16), Exemplar: 1}, {Image: testImage(16, 16)}}
	neg, err = prepareContrast(context.Background(), ex, "sit", opts, "hash", FitCrop, render, nil)
	if err != nil || len(prompts) != 0 || len(neg[0]) != 1 || len(neg[1]) != 1 || neg[0][0] == neg[1][0] {
		t.Errorf("user images: err %v, renders %d, %d/%d", err, len(prompts), len(neg[0]), len(neg[1]))
	}
	opts.UserImages = []ContrastImage{{Image: testImage(16, 16), Exemplar: 3}}
	if _, err := prepareContrast(context.Background(), ex, "sit", opts, "hash", FitCrop, render, nil); err == nil {
		t.Errorf("user image of exemplar 3 of 2: no error")
	}
	// No renderer and nothing supplied: a clear error.
	os.RemoveAll(cache)
	if _, err := prepareContrast(context.Background(), ex, "", ContrastOptions{}, "h", FitCrop, nil, nil); err == nil {
		t.Errorf("no renderer: no error")
	}
}
