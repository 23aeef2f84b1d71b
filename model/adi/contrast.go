package adi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"
)

// DefaultContrastActions are the action phrases swapped into an anchor's
// caption to synthesise action-different (negative) samples: common poses
// that SD 1.x draws reliably from words.
var DefaultContrastActions = []string{"standing", "walking", "waving", "sitting", "running", "squatting", "smiling", "jumping"}

// Img2Img renders prompt from img (size x size) by image-to-image with the
// frozen base model at the given strength (fraction of the schedule
// re-noised) and seed.
type Img2Img func(ctx context.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error)

// ContrastOptions configures the action-different samples of ADI's triples.
type ContrastOptions struct {
	// Actions are the phrases swapped in for the placeholder; default
	// DefaultContrastActions minus any that names the trained action.
	Actions []string
	// PerExemplar is how many negatives each anchor gets; default 2.
	PerExemplar int
	// Strength is the image-to-image strength; default 0.6.
	Strength float64
	// CacheDir holds synthesised negatives; default ".kata-contrast" in the
	// first exemplar's folder (next to the action, so a second run reuses them).
	CacheDir string
	// UserImages are contrast photos supplied by the user. A file whose name
	// starts with an exemplar's file stem followed by '-', '_' or '.' belongs
	// to that exemplar; the others serve every exemplar without its own.
	// Exemplars with user images get no synthesised ones.
	UserImages []string
	// Seed makes synthesis reproducible; it is part of the cache key.
	Seed uint64
}

func (o ContrastOptions) withDefaults(action string, exemplars []Exemplar) ContrastOptions {
	if len(o.Actions) == 0 {
		// Leave out the trained action itself ("sit" -> "sitting", "wave" -> "waving").
		stem := strings.TrimSuffix(strings.ToLower(action), "e")
		for _, a := range DefaultContrastActions {
			if stem == "" || !strings.HasPrefix(a, stem) {
				o.Actions = append(o.Actions, a)
			}
		}
	}
	if o.PerExemplar <= 0 {
		o.PerExemplar = 2
	}
	if o.Strength <= 0 {
		o.Strength = 0.6
	}
	if o.CacheDir == "" && len(exemplars) > 0 {
		o.CacheDir = filepath.Join(filepath.Dir(exemplars[0].Path), ".kata-contrast")
	}
	return o
}

func stemOf(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// PrepareContrast returns, for each exemplar, its action-different images at
// the exemplars' resolution: the user's contrast photos where given, else
// images synthesised by render from the anchor with the caption's slot
// filled by other actions, cached in opts.CacheDir under a key of everything
// that shapes them (model hash, caption, action, strength, seed, size).
// action is the trained action's plain name ("" when unknown); progress, when
// non-nil, is called after each image with (done, total).
func PrepareContrast(ctx context.Context, exemplars []Exemplar, action string, opts ContrastOptions, modelHash string, fit FitMode, render Img2Img, progress func(done, total int)) ([][]*image.NRGBA, error) {
	if len(exemplars) == 0 {
		return nil, ErrNoImages
	}
	opts = opts.withDefaults(action, exemplars)
	size := exemplars[0].Image.Bounds().Dx()
	out := make([][]*image.NRGBA, len(exemplars))
	var shared []*image.NRGBA
	for _, p := range opts.UserImages {
		img, err := imaging.Open(p, imaging.AutoOrientation(true))
		if err != nil {
			return nil, fmt.Errorf("contrast image %s: %w", p, err)
		}
		fitted, err := FitImage(img, size, fit)
		if err != nil {
			return nil, fmt.Errorf("contrast image %s: %w", p, err)
		}
		owner := -1
		name := filepath.Base(p)
		for i, e := range exemplars {
			s := stemOf(e.Path)
			if len(name) > len(s) && strings.HasPrefix(name, s) && strings.ContainsRune("-_.", rune(name[len(s)])) {
				owner = i
				break
			}
		}
		if owner >= 0 {
			out[owner] = append(out[owner], fitted)
		} else {
			shared = append(shared, fitted)
		}
	}
	var todo []int
	for i := range exemplars {
		if len(out[i]) == 0 && len(shared) > 0 {
			out[i] = shared
		}
		if len(out[i]) == 0 {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return out, nil
	}
	if render == nil {
		return nil, fmt.Errorf("contrast images: %d exemplars need synthesised negatives but no image-to-image renderer was given", len(todo))
	}
	if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("contrast cache: %w", err)
	}
	total, done := len(todo)*opts.PerExemplar, 0
	for _, i := range todo {
		e := exemplars[i]
		for k := range opts.PerExemplar {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			act := opts.Actions[(i*opts.PerExemplar+k)%len(opts.Actions)]
			prompt := Fill(e.Template, act)
			seed := opts.Seed + uint64(i)*1000 + uint64(k)
			key := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%g\x00%d\x00%d\x00%s", modelHash, prompt, stemOf(e.Path), opts.Strength, seed, size, fit))
			path := filepath.Join(opts.CacheDir, fmt.Sprintf("%s-%s-%s.png", stemOf(e.Path), strings.ReplaceAll(act, " ", "_"), hex.EncodeToString(key[:6])))
			img, err := loadCached(path, size)
			if err != nil {
				src, rerr := render(ctx, e.Image, prompt, opts.Strength, seed)
				if rerr != nil {
					return nil, fmt.Errorf("synthesise negative %q for %s: %w", prompt, e.Path, rerr)
				}
				img = imaging.Clone(src)
				if img.Bounds().Dx() != size || img.Bounds().Dy() != size {
					img = imaging.Resize(img, size, size, imaging.Lanczos)
				}
				if err := saveAtomic(path, img); err != nil {
					return nil, fmt.Errorf("contrast cache: %w", err)
				}
			}
			out[i] = append(out[i], img)
			done++
			if progress != nil {
				progress(done, total)
			}
		}
	}
	return out, nil
}

func loadCached(path string, size int) (*image.NRGBA, error) {
	img, err := imaging.Open(path)
	if err != nil {
		return nil, err
	}
	if img.Bounds().Dx() != size || img.Bounds().Dy() != size {
		return nil, fmt.Errorf("cached %s has size %v", path, img.Bounds())
	}
	return imaging.Clone(img), nil
}

// saveAtomic writes a PNG through a temporary file and a rename, so an
// interrupted run never leaves a half-written cache entry.
func saveAtomic(path string, img image.Image) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*.png")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := imaging.Encode(tmp, img, imaging.PNG); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}
