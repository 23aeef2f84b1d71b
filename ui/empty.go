package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// emptyState is the centred icon, headline, explanation and buttons a page
// shows while it has nothing to list, so a first-time user knows what to do.
// text is not wrapped: break its lines with \n.
func emptyState(icon fyne.Resource, headline, text string, buttons ...fyne.CanvasObject) fyne.CanvasObject {
	img := widget.NewIcon(icon)
	iconBox := container.NewGridWrap(fyne.NewSize(96, 96), img)
	title := widget.NewLabelWithStyle(headline, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = "headingText"
	body := widget.NewLabel(text)
	body.Alignment = fyne.TextAlignCenter
	row := container.NewHBox(layout.NewSpacer())
	for _, b := range buttons {
		row.Add(b)
	}
	row.Add(layout.NewSpacer())
	column := container.NewVBox(container.NewCenter(iconBox), title, body, row)
	return container.NewCenter(column)
}
