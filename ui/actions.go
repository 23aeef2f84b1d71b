package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// defaultActionName names the action that dropped photos create when none is
// selected; the designer renames it before training.
const defaultActionName = "New action"

// actionsPage lists the actions and the photos of the selected one.
type actionsPage struct {
	m         *MainWindow
	actions   []app.ActionInfo
	exemplars []app.ExemplarInfo
	selected  int64 // action ID, 0 for none
	train     *trainPanel
}

func newActionsPage(m *MainWindow) *actionsPage {
	p := &actionsPage{m: m}
	p.train = newTrainPanel(m, func() int64 { return p.selected })
	return p
}

func (p *actionsPage) view() fyne.CanvasObject {
	p.reload()
	return p.render()
}

// reload fetches the actions synchronously: listing is a quick SQLite query.
func (p *actionsPage) reload() {
	actions, err := p.m.svc.Actions()
	if err != nil {
		p.m.setStatus("Could not read the library: " + err.Error())
		return
	}
	p.actions = actions
	if p.selected == 0 && len(actions) > 0 {
		p.selected = actions[0].ID
	}
	p.exemplars = nil
	if p.selected != 0 {
		if ex, err := p.m.svc.Exemplars(p.selected); err == nil {
			p.exemplars = ex
		} else {
			p.m.setStatus("Could not read the photos: " + err.Error())
		}
	}
}

func (p *actionsPage) render() fyne.CanvasObject {
	addPhoto := widget.NewButtonWithIcon("Add photo…", theme.FileImageIcon(), p.addPhotoFromDialog)
	addFolder := widget.NewButtonWithIcon("Add folder…", theme.FolderOpenIcon(), p.addFolderFromDialog)
	if len(p.actions) == 0 {
		return emptyState(theme.MediaPhotoIcon(), "Teach Kata an action",
			"Drag a few photos of one action (a handstand, a salute) into this window,\n"+
				"or add them with the buttons below (Ctrl+O).\n"+
				"Then click Train: Kata learns the action on this computer,\n"+
				"and the Gallery puts it on any subject: \"a panda <handstand>\".",
			addPhoto, addFolder)
	}

	list := widget.NewList(
		func() int { return len(p.actions) },
		func() fyne.CanvasObject { return widget.NewLabel("action name (<trigger>) 00 photos") },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			a := p.actions[id]
			o.(*widget.Label).SetText(fmt.Sprintf("%s  %s  · %d photos", a.Name, a.Trigger, a.Exemplars))
		},
	)
	for i, a := range p.actions {
		if a.ID == p.selected {
			list.Select(i)
		}
	}
	list.OnSelected = func(id widget.ListItemID) {
		if p.actions[id].ID != p.selected {
			p.selected = p.actions[id].ID
			p.m.show(0)
		}
	}
	newAction := widget.NewButtonWithIcon("New action", theme.ContentAddIcon(), func() { p.createAction(defaultActionName, nil) })
	left := container.NewBorder(nil, newAction, nil, nil, list)

	photos := container.NewGridWrap(fyne.NewSize(140, 140))
	for _, e := range p.exemplars {
		img := canvas.NewImageFromImage(e.Thumb)
		img.FillMode = canvas.ImageFillContain
		img.ScaleMode = canvas.ImageScaleFastest
		photos.Add(img)
	}
	nameEntry := widget.NewEntry()
	nameEntry.SetText(p.selectedAction().Name)
	nameEntry.OnSubmitted = func(name string) { p.rename(name) }
	rename := widget.NewButton("Rename", func() { p.rename(nameEntry.Text) })
	summary := widget.NewLabelWithStyle(p.selectedSummary(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	header := container.NewBorder(nil, nil, nil, container.NewHBox(rename, summary), nameEntry)
	var body fyne.CanvasObject = container.NewVScroll(photos)
	if len(p.exemplars) == 0 {
		body = emptyState(theme.FileImageIcon(), "No photos yet",
			"Drag photos of this action here, or add them with the buttons below.")
	}
	p.train.showAction(p.selectedAction())
	bottom := container.NewVBox(container.NewHBox(addPhoto, addFolder), widget.NewSeparator(), p.train.box)
	detail := container.NewBorder(header, bottom, nil, nil, body)
	split := container.NewHSplit(left, detail)
	split.Offset = 0.3
	return split
}

func (p *actionsPage) selectedAction() app.ActionInfo {
	for _, a := range p.actions {
		if a.ID == p.selected {
			return a
		}
	}
	return app.ActionInfo{}
}

// selectedSummary is the trigger and training state shown beside the name.
func (p *actionsPage) selectedSummary() string {
	a := p.selectedAction()
	if a.Identifier != "" {
		return fmt.Sprintf("%s  · trained: %s", a.Trigger, a.Identifier)
	}
	return a.Trigger + "  · not trained yet"
}

func (p *actionsPage) rename(name string) {
	id := p.selected
	p.m.bg.run(func() error {
		_, err := p.m.svc.RenameAction(id, name)
		return err
	}, func(err error) {
		if err != nil {
			p.m.setStatus("Could not rename: " + err.Error())
			return
		}
		p.m.show(0)
	})
}

// addPhotos imports paths into the selected action, creating one if there is none.
func (p *actionsPage) addPhotos(paths []string) {
	if p.selected == 0 {
		p.createAction(defaultActionName, paths)
		return
	}
	target := p.selected
	p.m.setStatus(fmt.Sprintf("Adding %d item(s)…", len(paths)))
	var report app.ImportReport
	p.m.bg.run(func() error {
		var err error
		report, err = p.m.svc.AddPhotos(target, paths)
		return err
	}, func(err error) {
		if err != nil {
			p.m.setStatus("Could not add photos: " + err.Error())
		} else {
			p.m.setStatus(importSummary(report))
		}
		p.m.show(0)
	})
}

func (p *actionsPage) createAction(name string, thenAdd []string) {
	var created app.ActionInfo
	p.m.bg.run(func() error {
		var err error
		created, err = p.m.svc.CreateAction(name)
		return err
	}, func(err error) {
		if err != nil {
			p.m.setStatus("Could not create the action: " + err.Error())
			return
		}
		p.selected = created.ID
		if len(thenAdd) > 0 {
			p.addPhotos(thenAdd)
			return
		}
		p.m.show(0)
	})
}

func (p *actionsPage) addPhotoFromDialog() {
	p.fromDialog(func() (string, error) {
		return p.m.picker.PickFile("Add a photo of the action", "Images", app.PictureExtensions()...)
	})
}

func (p *actionsPage) addFolderFromDialog() {
	p.fromDialog(func() (string, error) { return p.m.picker.PickFolder("Add a folder of photos") })
}

// fromDialog runs a blocking native dialog off the UI goroutine.
func (p *actionsPage) fromDialog(pick func() (string, error)) {
	p.m.pickThen(pick, func(string) error { return nil }, "The file dialog failed",
		func(path string) { p.addPhotos([]string{path}) })
}

// importSummary is the status-bar line after an import.
func importSummary(r app.ImportReport) string {
	parts := []string{fmt.Sprintf("Added %d photo(s)", r.Added)}
	if r.Duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d already there", r.Duplicates))
	}
	if n := len(r.Failed); n > 0 {
		first := r.Failed[0]
		parts = append(parts, fmt.Sprintf("%d skipped (%s: %v)", n, filepath.Base(first.Path), first.Err))
	}
	return strings.Join(parts, ", ")
}
