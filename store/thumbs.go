package store

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/disintegration/imaging"
)

// thumbsDir holds derived previews; it is a cache that repair leaves alone
// and anyone may delete.
const thumbsDir = "thumbs"

// Thumbnail returns a stored picture scaled to fit size x size (never
// enlarged), for gallery grids. Thumbnails are cached as PNG under
// thumbs/<size>/ so a grid of hundreds opens quickly the second time.
func (l *Library) Thumbnail(hash string, size int) (image.Image, error) {
	if size < 16 || size > 1024 {
		return nil, fmt.Errorf("thumbnail: size %d outside 16..1024", size)
	}
	if !validHash(hash) {
		return nil, fmt.Errorf("thumbnail: bad hash %q", hash)
	}
	p := filepath.Join(l.dir, thumbsDir, fmt.Sprint(size), hash[:2], hash+".png")
	// A cached thumbnail is decoded with the same limits, sized for itself: a
	// damaged or oversized cache entry is rebuilt below.
	if img, err := DecodeFile(p, Limits{MaxBytes: thumbMaxBytes(size), MaxPixels: size * size, MinSide: -1}); err == nil {
		if b := img.Bounds(); b.Dx() <= size && b.Dy() <= size {
			return img, nil
		}
	}
	img, err := l.Image(hash)
	if err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	thumb := image.Image(img)
	if b := img.Bounds(); b.Dx() > size || b.Dy() > size {
		thumb = imaging.Fit(img, size, size, imaging.Lanczos)
	}
	data, err := EncodePNG(thumb)
	if err != nil {
		return nil, fmt.Errorf("thumbnail: %w", err)
	}
	// The cache is best effort: a read-only library still gets its thumbnail.
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		l.writeAtomic(p, bytes.NewReader(data))
	}
	return thumb, nil
}

// thumbMaxBytes bounds a cached thumbnail's file: its raw RGBA size plus
// room for PNG framing (an uncompressible PNG is barely larger than raw).
func thumbMaxBytes(size int) int64 { return int64(size)*int64(size)*4 + 64<<10 }
