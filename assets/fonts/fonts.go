// Package fonts holds the typeface of the labels Kata draws into images
// (the library's contact sheet, the world's sheet): Go Regular, which
// golang.org/x/image/font/gofont embeds, and the helpers that fit a line of
// it to a width and draw it. It imports nothing of Kata's, so model/ and
// store/ both use it.
package fonts

import (
	"image"
	"image/color"
	"image/draw"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

var (
	goRegular     *opentype.Font
	goRegularErr  error
	goRegularOnce sync.Once
)

// Label returns Go Regular at size pixels (72 DPI, full hinting), the face
// of every label. The font is parsed once; each face is the caller's to
// Close.
func Label(size float64) (font.Face, error) {
	goRegularOnce.Do(func() { goRegular, goRegularErr = opentype.Parse(goregular.TTF) })
	if goRegularErr != nil {
		return nil, goRegularErr
	}
	return opentype.NewFace(goRegular, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}

// Fit returns text as it fits in maxW pixels set in face: whole when it
// fits, else cut rune by rune at the end until the rest followed by
// ellipsis ("" for a plain cut, "…" to show the cut) fits. At least one
// rune of text is kept, so the result may still be wider than maxW.
func Fit(face font.Face, text string, maxW int, ellipsis string) string {
	if font.MeasureString(face, text).Ceil() <= maxW {
		return text
	}
	rs := []rune(text)
	for len(rs) > 1 && font.MeasureString(face, string(rs)+ellipsis).Ceil() > maxW {
		rs = rs[:len(rs)-1]
	}
	return string(rs) + ellipsis
}

// Draw writes text in col with the top-left corner of its line at (x, y):
// the baseline lies the face's ascent (rounded up to a pixel) below y.
func Draw(dst draw.Image, face font.Face, text string, x, y int, col color.Color) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(col), Face: face,
		Dot: fixed.P(x, y+face.Metrics().Ascent.Ceil())}
	d.DrawString(text)
}
