package adi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kata/model/placeholder"
	"kata/store/atomicfile"

	"github.com/disintegration/imaging"
)

// DefaultContrastActions are the action phrases swapped into an anchor's
// caption to synthesise action-different (negative) samples: common poses
// that SD 1.x draws reliably from words.
var DefaultContrastActions = []string{"standing", "walking", "waving", "sitting", "running", "squatting", "smiling", "jumping"}

// Defaults of ContrastOptions: negatives per exemplar and image-to-image strength.
const (
	DefaultContrastPerExemplar = 2
	DefaultContrastStrength    = 0.6
)

// Img2Img renders prompt from img (size x size) by image-to-image with the
// frozen base model at the given strength (fraction of the schedule
// re-noised) and seed.
type Img2Img func(ctx context.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error)

// ContrastImage is a contrast photo supplied by the user: same context as
// an exemplar, another action.
type ContrastImage struct {
	Image image.Image // any size; brought to the run's resolution like the exemplars
	// Exemplar is the 1-based number of the exemplar it belongs to; 0 lets it
	// serve every exemplar without one of its own.
	Exemplar int
}

// ContrastOptions configures the action-different samples of ADI's triples.
type ContrastOptions struct {
	// Actions are the phrases swapped in for the placeholder; default
	// DefaultContrastActions minus any that names the trained action.
	Actions []string
	// PerExemplar is how many negatives each anchor gets; default
	// DefaultContrastPerExemplar.
	PerExemplar int
	// Strength is the image-to-image strength; default DefaultContrastStrength.
	Strength float64
	// CacheDir, when set, keeps synthesised negatives between runs, as PNGs
	// named by the hash of the exemplar's pixels and of everything else that
	// shapes them. Empty: nothing is written. Callers point it into Kata's
	// own work folder, never beside the user's photos.
	CacheDir string
	// UserImages are the user's contrast photos. Exemplars with user images
	// get no synthesised ones.
	UserImages []ContrastImage
	// Seed makes synthesis reproducible; it is part of the cache key.
	Seed uint64
}

func (o ContrastOptions) withDefaults(action string) ContrastOptions {
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
		o.PerExemplar = DefaultContrastPerExemplar
	}
	if o.Strength <= 0 {
		o.Strength = DefaultContrastStrength
	}
	return o
}

// prepareContrast returns, for each exemplar, its action-different images at
// the exemplars' resolution: the user's contrast photos where given, else
// images synthesised by render from the anchor with the caption's slot
// filled by other actions, cached in opts.CacheDir (when set) under a key of
// everything that shapes them (model hash, exemplar pixels, prompt,
// strength, seed, size, fit). action is the trained action's plain name (""
// when unknown); progress, when non-nil, is called after each image with
// (done, total).
func prepareContrast(ctx context.Context, exemplars []fitted, action string, opts ContrastOptions, modelHash string, fit FitMode, render Img2Img, progress func(done, total int)) ([][]*image.NRGBA, error) {
	if len(exemplars) == 0 {
		return nil, ErrNoImages
	}
	opts = opts.withDefaults(action)
	size := exemplars[0].image.Bounds().Dx()
	out := make([][]*image.NRGBA, len(exemplars))
	var shared []*image.NRGBA
	for i, u := range opts.UserImages {
		if u.Image == nil || u.Exemplar < 0 || u.Exemplar > len(exemplars) {
			return nil, fmt.Errorf("contrast image %d: no picture, or exemplar %d of %d", i+1, u.Exemplar, len(exemplars))
		}
		img, err := FitImage(u.Image, size, fit)
		if err != nil {
			return nil, fmt.Errorf("contrast image %d: %w", i+1, err)
		}
		if u.Exemplar > 0 {
			out[u.Exemplar-1] = append(out[u.Exemplar-1], img)
		} else {
			shared = append(shared, img)
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
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("contrast cache: %w", err)
		}
	}
	total, done := len(todo)*opts.PerExemplar, 0
	for _, i := range todo {
		e := exemplars[i]
		for k := range opts.PerExemplar {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			act := opts.Actions[(i*opts.PerExemplar+k)%len(opts.Actions)]
			prompt := placeholder.Fill(e.template, act)
			seed := opts.Seed + uint64(i)*1000 + uint64(k)
			img, err := synthesise(ctx, e, prompt, seed, size, fit, modelHash, opts, render)
			if err != nil {
				return nil, err
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

// synthesise renders one negative of e, or reads it from opts.CacheDir.
func synthesise(ctx context.Context, e fitted, prompt string, seed uint64, size int, fit FitMode, modelHash string, opts ContrastOptions, render Img2Img) (*image.NRGBA, error) {
	var path string
	if opts.CacheDir != "" {
		key := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%g\x00%d\x00%d\x00%s", modelHash, prompt, e.hash, opts.Strength, seed, size, fit))
		path = filepath.Join(opts.CacheDir, e.hash[:16]+"-"+hex.EncodeToString(key[:8])+".png")
		if img, err := loadCached(path, size); err == nil {
			return img, nil
		}
	}
	src, err := render(ctx, e.image, prompt, opts.Strength, seed)
	if err != nil {
		return nil, fmt.Errorf("synthesise negative %q for %s: %w", prompt, e.name, err)
	}
	img := imaging.Clone(src)
	if img.Bounds().Dx() != size || img.Bounds().Dy() != size {
		img = imaging.Resize(img, size, size, imaging.Lanczos)
	}
	if path != "" {
		if err := atomicfile.Write(path, func(w io.Writer) error { return imaging.Encode(w, img, imaging.PNG) }); err != nil {
			return nil, fmt.Errorf("contrast cache: %w", err)
		}
	}
	return img, nil
}

func loadCached(path string, size int) (*image.NRGBA, error) {
	// The header first: a cache file of another size is not decoded at all.
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	cfg, _, err := image.DecodeConfig(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("cached %s: %w", path, err)
	}
	if cfg.Width != size || cfg.Height != size {
		return nil, fmt.Errorf("cached %s has size %dx%d", path, cfg.Width, cfg.Height)
	}
	img, err := imaging.Open(path)
	if err != nil {
		return nil, err
	}
	if img.Bounds().Dx() != size || img.Bounds().Dy() != size {
		return nil, fmt.Errorf("cached %s has size %v", path, img.Bounds())
	}
	return imaging.Clone(img), nil
}
