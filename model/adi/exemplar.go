package adi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"strings"

	"kata/model/placeholder"

	"github.com/disintegration/imaging"
)

// FitMode says how an exemplar of another size or aspect is brought to the
// model's square resolution.
type FitMode string

const (
	// FitCrop scales the short side to the resolution and crops the centre.
	FitCrop FitMode = "crop"
	// FitPad scales the long side to the resolution and pads with mid grey.
	FitPad FitMode = "pad"
)

// ErrNoImages is wrapped when a run is given no exemplar.
var ErrNoImages = errors.New("no exemplar images")

// Exemplar is one training photo of the action, in memory. Callers read
// folders with store/actionfolder or build exemplars from library rows.
type Exemplar struct {
	// Name says where the photo came from ("01.jpg", "photo 3"), for error
	// messages; optional.
	Name string
	// Image is the photo at any size; Train brings it to Options.Resolution
	// with Options.Fit.
	Image image.Image
	// Template is the caption: "{}" marks where the action goes (the trigger
	// or "<A>" written out count too, see NormalizeTemplate); empty takes
	// Options.Caption.
	Template string
}

// NormalizeTemplate turns a user caption into a template: "{}" is kept,
// otherwise the trigger or "<A>" becomes the slot; a caption naming neither
// gets the slot appended ("a man on a beach" -> "a man on a beach {}").
func NormalizeTemplate(caption, trigger string) string {
	c := strings.TrimSpace(caption)
	switch {
	case c == "":
		return placeholder.DefaultCaption
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

// fitted is an exemplar prepared for training: its caption template
// normalised and its picture at the run's resolution.
type fitted struct {
	name     string       // Exemplar.Name, or "exemplar N"
	template string       // caption with "{}" where the placeholder goes
	image    *image.NRGBA // size x size
	hash     string       // hex SHA-256 of the fitted pixels: names the picture in caches and fingerprints
}

// fitExemplars normalises the exemplars' templates (an empty one takes
// defaultTemplate, else placeholder.DefaultCaption; trigger is recognised) and brings
// their pictures to size x size with mode.
func fitExemplars(exemplars []Exemplar, trigger string, size int, mode FitMode, defaultTemplate string) ([]fitted, error) {
	if len(exemplars) == 0 {
		return nil, ErrNoImages
	}
	if defaultTemplate == "" {
		defaultTemplate = placeholder.DefaultCaption
	}
	out := make([]fitted, len(exemplars))
	for i, e := range exemplars {
		f := fitted{name: e.Name, template: NormalizeTemplate(e.Template, trigger)}
		if f.name == "" {
			f.name = fmt.Sprintf("exemplar %d", i+1)
		}
		if strings.TrimSpace(e.Template) == "" {
			f.template = NormalizeTemplate(defaultTemplate, trigger)
		}
		if e.Image == nil {
			return nil, fmt.Errorf("%s: no picture", f.name)
		}
		var err error
		if f.image, err = FitImage(e.Image, size, mode); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		f.hash = pixelHash(f.image)
		out[i] = f
	}
	return out, nil
}

// pixelHash is the hex SHA-256 of img's size and pixels.
func pixelHash(img *image.NRGBA) string {
	h := sha256.New()
	b := img.Bounds()
	fmt.Fprintf(h, "%dx%d|", b.Dx(), b.Dy())
	for y := range b.Dy() {
		h.Write(img.Pix[y*img.Stride : y*img.Stride+4*b.Dx()])
	}
	return hex.EncodeToString(h.Sum(nil))
}
