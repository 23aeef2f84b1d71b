package ui

import (
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// thumb is a clickable thumbnail; a selected one has a frame in the theme's
// primary colour.
type thumb struct {
	widget.BaseWidget
	img      image.Image
	selected bool
	onTap    func()
}

func newThumb(img image.Image, onTap func()) *thumb {
	t := &thumb{img: img, onTap: onTap}
	t.ExtendBaseWidget(t)
	return t
}

// Tapped calls onTap.
func (t *thumb) Tapped(*fyne.PointEvent) {
	if t.onTap != nil {
		t.onTap()
	}
}

// CreateRenderer draws the picture, framed when selected.
func (t *thumb) CreateRenderer() fyne.WidgetRenderer {
	img := canvas.NewImageFromImage(t.img)
	img.FillMode = canvas.ImageFillContain
	img.ScaleMode = canvas.ImageScaleFastest
	img.SetMinSize(fyne.NewSize(96, 96))
	frame := canvas.NewRectangle(nil)
	if t.selected {
		frame.StrokeColor = theme.Color(theme.ColorNamePrimary)
		frame.StrokeWidth = 3
	}
	return widget.NewSimpleRenderer(container.NewStack(img, frame))
}
