package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
)

// rescroll returns a vertical scroll of content scrolled to where old (the
// same page's previous render, may be nil) was, so that re-rendering a page
// after each finished image or import keeps the designer's place instead of
// jumping back to the top. The scroll clamps the offset to the new content.
func rescroll(old *container.Scroll, content fyne.CanvasObject) *container.Scroll {
	s := container.NewVScroll(content)
	if old != nil {
		s.Offset = old.Offset
	}
	return s
}
