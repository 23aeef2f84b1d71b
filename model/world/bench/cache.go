package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"kata/model/adi"
	"kata/store"
	"kata/store/atomicfile"
)

// Folders of a run's cache (Runner.CacheDir).
const (
	cacheIdentifiers = "identifiers" // ACTION-METHOD-KEY.safetensors, and its .state checkpoint while training
	cacheImages      = "images"      // ACTION/METHOD/COLOUR-KIND-KEY-K.png
	cacheContrast    = "contrast"    // ADI's synthesised contrast images (adi.ContrastOptions.CacheDir)
)

// cache keeps a run's identifiers, training checkpoints and images under
// dir, each file named by a hash of everything that shapes it, so a run
// killed at any point and started again with the same settings redoes only
// the unfinished work, and a run with other settings never reuses a file.
// A zero cache (dir "") keeps nothing.
type cache struct {
	dir   string
	model string // the model's hash, part of every key
}

func (c cache) on() bool { return c.dir != "" }

// key is 16 hex digits of the SHA-256 of the model's hash and parts as JSON.
func (c cache) key(parts ...any) (string, error) {
	data, err := json.Marshal(append([]any{c.model}, parts...))
	if err != nil {
		return "", fmt.Errorf("bench: cache key: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// FileName is m as a file name: "p+" becomes "pplus".
func (m Method) FileName() string { return strings.ReplaceAll(string(m), "+", "plus") }

// identifierPath is where the identifier of key is kept.
func (c cache) identifierPath(action string, m Method, key string) string {
	return filepath.Join(c.dir, cacheIdentifiers, fmt.Sprintf("%s-%s-%s.safetensors", action, m.FileName(), key))
}

// identifierKey names an identifier by its exemplars (pixels and captions)
// and its training options (to, with Method, Name, Steps and Seed set and
// no paths).
func (c cache) identifierKey(exemplars []adi.Exemplar, to adi.Options) (string, error) {
	h := sha256.New()
	for _, e := range exemplars {
		b := e.Image.Bounds()
		fmt.Fprintf(h, "%s|%s|%v|", e.Name, e.Template, b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, a := e.Image.At(x, y).RGBA()
				h.Write([]byte{byte(r >> 8), byte(g >> 8), byte(bl >> 8), byte(a >> 8)})
			}
		}
	}
	return c.key("identifier", hex.EncodeToString(h.Sum(nil)), to)
}

// loadIdentifier returns the kept identifier at path, or nil when there is none.
func loadIdentifier(path string) (*adi.Identifier, error) {
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil, nil
	}
	id, err := adi.Load(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cached identifier (remove it to train again): %w", err)
	}
	return id, nil
}

// cellPaths are the files of a cell's images: one per image number.
func (c cache) cellPaths(action string, m Method, s Subject, key string, n int) []string {
	paths := make([]string, n)
	for k := range paths {
		paths[k] = filepath.Join(c.dir, cacheImages, action, m.FileName(), fmt.Sprintf("%s-%s-%s-%d.png", s.Color, s.Kind, key, k))
	}
	return paths
}

// loadCell returns the images at paths, or nil when any is missing.
func loadCell(paths []string) ([]*image.NRGBA, error) {
	for _, p := range paths {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			return nil, nil
		}
	}
	imgs := make([]*image.NRGBA, len(paths))
	for k, p := range paths {
		img, err := store.DecodeFile(p, store.Limits{MinSide: -1})
		if err != nil {
			return nil, fmt.Errorf("bench: cached image %s (remove it to generate again): %w", p, err)
		}
		imgs[k] = img
	}
	return imgs, nil
}

// saveCell writes imgs to paths, each atomically.
func saveCell(paths []string, imgs []*image.NRGBA) error {
	if err := os.MkdirAll(filepath.Dir(paths[0]), 0o755); err != nil {
		return fmt.Errorf("bench: cache: %w", err)
	}
	for k, p := range paths {
		data, err := store.EncodePNG(imgs[k])
		if err == nil {
			err = atomicfile.WriteBytes(p, data)
		}
		if err != nil {
			return fmt.Errorf("bench: cache: %w", err)
		}
	}
	return nil
}
