package adi

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/disintegration/imaging"
)

// DefaultCaption is the caption template of exemplars without one; "{}" is
// the slot of the placeholder.
const DefaultCaption = "a photo of a person {}"

// FitMode says how an exemplar of another size or aspect is brought to the
// model's square resolution.
type FitMode string

const (
	// FitCrop scales the short side to the resolution and crops the centre.
	FitCrop FitMode = "crop"
	// FitPad scales the long side to the resolution and pads with mid grey.
	FitPad FitMode = "pad"
)

// ErrNoImages is wrapped when an image folder or list holds no readable image.
var ErrNoImages = errors.New("no exemplar images")

// Exemplar is one training photo of the action.
type Exemplar struct {
	Path     string       // file it came from
	Template string       // caption with "{}" where the placeholder goes
	Image    *image.NRGBA // at the model's resolution (size x size)
}

// Caption returns the template with trigger in its slot.
func (e *Exemplar) Caption(trigger string) string { return Fill(e.Template, trigger) }

// Fill puts phrase into template's "{}" slot (the first one; any later "{}"
// too, so ActionBench templates with a repeated slot stay consistent).
func Fill(template, phrase string) string { return strings.ReplaceAll(template, "{}", phrase) }

// NormalizeTemplate turns a user caption into a template: "{}" is kept,
// otherwise the trigger or "<A>" becomes the slot; a caption naming neither
// gets the slot appended ("a man on a beach" -> "a man on a beach {}").
func NormalizeTemplate(caption, trigger string) string {
	c := strings.TrimSpace(caption)
	switch {
	case c == "":
		return DefaultCaption
	case strings.Contains(c, "{}"):
		return c
	case trigger != "" && strings.Contains(c, trigger):
		return strings.ReplaceAll(c, trigger, "{}")
	case strings.Contains(c, "<A>"):
		return strings.ReplaceAll(c, "<A>", "{}")
	}
	return c + " {}"
}

// FitImage brings img to size x size: FitCrop fills the square and cuts the
// overflow around the centre; FitPad fits the whole image and pads the rest
// with mid grey (which encodes to about zero in the VAE's [-1, 1] range).
func FitImage(img image.Image, size int, mode FitMode) (*image.NRGBA, error) {
	b := img.Bounds()
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, fmt.Errorf("empty image (%dx%d)", b.Dx(), b.Dy())
	}
	if size <= 0 {
		return nil, fmt.Errorf("bad resolution %d", size)
	}
	switch mode {
	case FitCrop, "":
		return imaging.Fill(img, size, size, imaging.Center, imaging.Lanczos), nil
	case FitPad:
		w, h := size, size
		if b.Dx() >= b.Dy() {
			h = max(1, int(float64(b.Dy())*float64(size)/float64(b.Dx())+0.5))
		} else {
			w = max(1, int(float64(b.Dx())*float64(size)/float64(b.Dy())+0.5))
		}
		scaled := imaging.Resize(img, w, h, imaging.Lanczos)
		bg := imaging.New(size, size, color.NRGBA{128, 128, 128, 255})
		return imaging.PasteCenter(bg, scaled), nil
	}
	return nil, fmt.Errorf("unknown fit mode %q: want %q or %q", mode, FitCrop, FitPad)
}

// ImageCHW converts img to a [3, H, W] float32 slice in [-1, 1] (the VAE's
// input range), mirrored left-right when flip is set. Alpha is dropped.
func ImageCHW(img *image.NRGBA, flip bool) []float32 {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]float32, 3*w*h)
	for y := range h {
		row := img.Pix[y*img.Stride:]
		for x := range w {
			sx := x
			if flip {
				sx = w - 1 - x
			}
			for c := range 3 {
				out[c*w*h+y*w+x] = float32(row[4*sx+c])/127.5 - 1
			}
		}
	}
	return out
}

var imageExts = []string{".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff"}

// IsImageFile reports whether path has an image extension Kata decodes.
func IsImageFile(path string) bool {
	return slices.Contains(imageExts, strings.ToLower(filepath.Ext(path)))
}

// ListImages expands files and folders (not recursive) into the sorted list
// of image files they name. A folder without images gives ErrNoImages.
func ListImages(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("exemplars: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("exemplars: %w", err)
		}
		n := len(out)
		for _, e := range entries {
			if !e.IsDir() && IsImageFile(e.Name()) {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("%w in folder %s", ErrNoImages, p)
		}
		slices.Sort(out[n:])
	}
	if len(out) == 0 {
		return nil, ErrNoImages
	}
	return out, nil
}

// captionsOf reads the caption templates of a folder: ActionBench's
// text.json, either an object keyed by file name, file stem or index, or an
// array in sorted file order. Missing file: nil, nil.
func captionsOf(dir string) (map[string]string, []string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "text.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	var byName map[string]string
	if err := json.Unmarshal(data, &byName); err == nil {
		return byName, nil, nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		return nil, list, nil
	}
	return nil, nil, fmt.Errorf("%s: want a JSON object of captions keyed by file name or a JSON array of captions", filepath.Join(dir, "text.json"))
}

// captionFor finds the caption of image path: its NN.txt beside it, else the
// folder's text.json entry, else "".
func captionFor(path string, index int, byName map[string]string, list []string) (string, error) {
	stem := strings.TrimSuffix(path, filepath.Ext(path))
	if b, err := os.ReadFile(stem + ".txt"); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	base := filepath.Base(path)
	short := strings.TrimSuffix(base, filepath.Ext(base))
	for _, k := range []string{base, short, strconv.Itoa(index)} {
		if c, ok := byName[k]; ok {
			return c, nil
		}
	}
	if n, err := strconv.Atoi(short); err == nil {
		if c, ok := byName[strconv.Itoa(n)]; ok {
			return c, nil
		}
	}
	if index < len(list) {
		return list[index], nil
	}
	return "", nil
}

// LoadExemplars reads the images named by paths (files and/or folders),
// brings each to size x size with mode, and attaches its caption template
// (NN.txt beside the image, else the folder's text.json, else
// defaultTemplate or DefaultCaption). trigger is recognised in captions.
func LoadExemplars(paths []string, trigger string, size int, mode FitMode, defaultTemplate string) ([]Exemplar, error) {
	files, err := ListImages(paths)
	if err != nil {
		return nil, err
	}
	if defaultTemplate == "" {
		defaultTemplate = DefaultCaption
	}
	type dirCaps struct {
		byName map[string]string
		list   []string
		next   int
	}
	dirs := map[string]*dirCaps{}
	out := make([]Exemplar, 0, len(files))
	for _, f := range files {
		dir := filepath.Dir(f)
		dc, ok := dirs[dir]
		if !ok {
			dc = &dirCaps{}
			if dc.byName, dc.list, err = captionsOf(dir); err != nil {
				return nil, fmt.Errorf("exemplar captions: %w", err)
			}
			dirs[dir] = dc
		}
		caption, err := captionFor(f, dc.next, dc.byName, dc.list)
		dc.next++
		if err != nil {
			return nil, fmt.Errorf("exemplar caption of %s: %w", f, err)
		}
		if caption == "" {
			caption = defaultTemplate
		}
		img, err := imaging.Open(f, imaging.AutoOrientation(true))
		if err != nil {
			return nil, fmt.Errorf("exemplar %s: %w", f, err)
		}
		fitted, err := FitImage(img, size, mode)
		if err != nil {
			return nil, fmt.Errorf("exemplar %s: %w", f, err)
		}
		out = append(out, Exemplar{Path: f, Template: NormalizeTemplate(caption, trigger), Image: fitted})
	}
	return out, nil
}
