package store

import (
	"context"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

// TestHostileStoredImage: a blob replaced behind the library's back (a PNG
// declaring 60000x60000 pixels, garbage, a truncated PNG) is refused by Image,
// Thumbnail and the contact sheet with the decoder's error instead of being
// decoded (which would allocate 14 GB for the bomb).
func TestHostileStoredImage(t *testing.T) {
	ctx := context.Background()
	good := pngBytes(solid(100, 100, color.NRGBA{9, 9, 9, 255}))
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"bomb", bombPNG(60000, 60000), ErrTooLarge},
		{"garbage", []byte("not a picture at all"), ErrNotImage},
		{"truncated", good[:len(good)/2], ErrCorrupt},
		{"empty", nil, ErrEmptyFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := openTemp(t)
			a, err := l.CreateAction(ctx, Action{Name: "sit"})
			if err != nil {
				t.Fatal(err)
			}
			e, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, solid(40, 30, color.NRGBA{1, 2, 3, 255}))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.Image(e.Image); err != nil {
				t.Fatalf("the untouched blob: %v", err)
			}
			if err := os.WriteFile(l.BlobPath(e.Image), tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Image(e.Image); !errors.Is(err, tc.want) {
				t.Errorf("Image: %v, want %v", err, tc.want)
			}
			if _, err := l.Thumbnail(e.Image, 64); !errors.Is(err, tc.want) {
				t.Errorf("Thumbnail: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestThumbnailCache: a cached thumbnail is served from thumbs/, and a hostile
// or oversized cache entry is ignored and rebuilt from the blob.
func TestThumbnailCache(t *testing.T) {
	ctx := context.Background()
	l := openTemp(t)
	a, err := l.CreateAction(ctx, Action{Name: "sit"})
	if err != nil {
		t.Fatal(err)
	}
	e, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, solid(200, 100, color.NRGBA{200, 10, 10, 255}))
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(l.Dir(), thumbsDir, "64", e.Image[:2], e.Image+".png")
	for _, tc := range []struct {
		name  string
		entry []byte // written over the cache entry before the call; nil keeps it
	}{
		{"first call builds it", nil},
		{"second call reads it", nil},
		{"bomb in the cache", bombPNG(60000, 60000)},
		{"larger than the size", pngBytes(solid(300, 300, color.NRGBA{0, 0, 0, 255}))},
		{"garbage in the cache", []byte("junk")},
	} {
		if tc.entry != nil {
			if err := os.WriteFile(cache, tc.entry, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		img, err := l.Thumbnail(e.Image, 64)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if b := img.Bounds(); b.Dx() != 64 || b.Dy() != 32 {
			t.Errorf("%s: thumbnail %v, want 64x32", tc.name, b)
		}
		if r, _, _, _ := img.At(10, 10).RGBA(); r>>8 < 190 {
			t.Errorf("%s: thumbnail colour %v, want the exemplar's red", tc.name, img.At(10, 10))
		}
		if _, err := os.Stat(cache); err != nil {
			t.Errorf("%s: no cache entry: %v", tc.name, err)
		}
	}
}
