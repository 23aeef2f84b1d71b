package store

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // first frame of GIFs
	_ "image/jpeg"
	_ "image/png"
	"io"
	"os"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/webp"
)

// Why an input file is not imported. Import wraps them with the path.
var (
	ErrEmptyFile = errors.New("empty file")
	ErrNotImage  = errors.New("not an image Kata can read (PNG, JPEG, WebP, GIF, BMP, TIFF)")
	ErrCorrupt   = errors.New("image data is truncated or corrupt")
	ErrTooLarge  = errors.New("image is too large")
	ErrTooSmall  = errors.New("image is too small")
)

// Limits bound what DecodeImage accepts.
type Limits struct {
	MaxBytes  int64 // file size; default 200 MiB
	MaxPixels int   // width*height checked from the header before decoding; default 50 megapixels
	MinSide   int   // shorter side in pixels; default 64, negative for no minimum
}

// DefaultLimits are the import limits when none are given.
var DefaultLimits = Limits{MaxBytes: 200 << 20, MaxPixels: 50_000_000, MinSide: 64}

func (lim Limits) withDefaults() Limits {
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = DefaultLimits.MaxBytes
	}
	if lim.MaxPixels <= 0 {
		lim.MaxPixels = DefaultLimits.MaxPixels
	}
	switch {
	case lim.MinSide == 0:
		lim.MinSide = DefaultLimits.MinSide
	case lim.MinSide < 0:
		lim.MinSide = 0
	}
	return lim
}

// DecodeFile opens and decodes the picture file at path with DecodeImage.
// Anything but a regular file is refused before it is opened (a FIFO or a
// device would block or read forever). Errors do not repeat path.
func DecodeFile(path string, lim Limits) (*image.NRGBA, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%v)", st.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	img, _, err := DecodeImage(f, lim)
	return img, err
}

// DecodeImage decodes a picture file for the library: the header is checked
// against lim before any pixel is decoded (decompression bombs), the EXIF
// orientation is applied, CMYK/YCCK JPEGs are converted to RGB (Adobe's
// inverted ink values undone by image/jpeg, then the device-independent
// formula R = (1-C)(1-K); embedded ICC profiles are not applied), GIFs give
// their first frame, and transparency is flattened onto white. The result is
// an opaque *image.NRGBA and the format name ("png", "jpeg", ...).
func DecodeImage(r io.Reader, lim Limits) (img *image.NRGBA, format string, err error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read: %w", err)
	}
	if len(data) == 0 {
		return nil, "", ErrEmptyFile
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", fmt.Errorf("%w: file is over %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	// The standard decoders are meant not to panic on bad input; this keeps a
	// bug in one of them from taking down a whole import.
	defer func() {
		if p := recover(); p != nil {
			img, err = nil, fmt.Errorf("%w: decoder failed: %v", ErrCorrupt, p)
		}
	}()
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, "", ErrNotImage
		}
		return nil, "", fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, format, fmt.Errorf("%w: %s header says %dx%d", ErrCorrupt, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(lim.MaxPixels) {
		return nil, format, fmt.Errorf("%w: %dx%d is over %d pixels", ErrTooLarge, cfg.Width, cfg.Height, lim.MaxPixels)
	}
	if min(cfg.Width, cfg.Height) < lim.MinSide {
		return nil, format, fmt.Errorf("%w: %dx%d, the shorter side must be at least %d", ErrTooSmall, cfg.Width, cfg.Height, lim.MinSide)
	}
	src, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, format, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return flatten(src), format, nil
}

// flatten draws src over white into a fresh image with origin (0,0). Drawing
// through draw.Over converts any colour model (CMYK, YCbCr, paletted, gray)
// with the standard library's conversions; RGBA is the destination with fast
// paths, and since the result is opaque its bytes are the same as NRGBA's.
func flatten(src image.Image) *image.NRGBA {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Over)
	return &image.NRGBA{Pix: dst.Pix, Stride: dst.Stride, Rect: dst.Rect}
}
