package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"

	"kata/app"
)

// galleryPage shows the generated images.
type galleryPage struct {
	m     *MainWindow
	items []app.GenerationInfo
}

func newGalleryPage(m *MainWindow) *galleryPage { return &galleryPage{m: m} }

func (p *galleryPage) view() fyne.CanvasObject {
	items, err := p.m.svc.Generations()
	if err != nil {
		p.m.setStatus("Could not read the gallery: " + err.Error())
	}
	p.items = items
	if len(p.items) == 0 {
		return emptyState(theme.GridIcon(), "Nothing generated yet",
			"Train an action first, then mix it with any subject here:\n"+
				"\"a panda <handstand>\", \"our mascot <salute>\".")
	}
	grid := container.NewGridWrap(fyne.NewSize(200, 200))
	for _, g := range p.items {
		img := canvas.NewImageFromFile(g.ImagePath)
		img.FillMode = canvas.ImageFillContain
		grid.Add(img)
	}
	return container.NewVScroll(grid)
}
