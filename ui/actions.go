package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// actionsPage lists the actions and the photos of the selected one.
type actionsPage struct {
	m         *MainWindow
	actions   []app.ActionInfo
	exemplars []app.ExemplarInfo
	selected  int64 // action ID, 0 for none
	photo     int64 // selected exemplar ID (Delete removes it), 0 for none
	failed    []app.FileError
	train     *trainPanel
	// The last render's photo scroll and split, whose place and divider the
	// next render keeps.
	scroll *container.Scroll
	split  *container.Split
}

func newActionsPage(m *MainWindow) *actionsPage {
	p := &actionsPage{m: m}
	p.train = newTrainPanel(m, func() int64 { return p.selected })
	return p
}

// load fetches the actions and the selected action's photos with their
// thumbnails (decoded, or read from the library's thumbnail cache). It runs
// off the UI goroutine; p.selected is only read here.
func (p *actionsPage) load() error {
	actions, err := p.m.svc.Actions()
	if err != nil {
		return err
	}
	var selected int64
	onUI(func() { selected = p.selected })
	found := false
	for _, a := range actions {
		found = found || a.ID == selected
	}
	if !found {
		selected = 0
		if len(actions) > 0 {
			selected = actions[0].ID
		}
	}
	var ex []app.ExemplarInfo
	if selected != 0 {
		if ex, err = p.m.svc.Exemplars(selected); err != nil {
			return err
		}
	}
	onUI(func() { p.actions, p.selected, p.exemplars = actions, selected, ex })
	return nil
}

func (p *actionsPage) render() fyne.CanvasObject {
	addPhotos := widget.NewButtonWithIcon("Add photos…", theme.FileImageIcon(), p.addPhotoFromDialog)
	addFolder := widget.NewButtonWithIcon("Add folder…", theme.FolderOpenIcon(), p.addFolderFromDialog)
	if len(p.actions) == 0 {
		return container.NewVBox(
			emptyState(theme.MediaPhotoIcon(), "Teach Kata an action",
				"Drag a folder of photos of one action (a handstand, a salute) into this window:\n"+
					"the action is named after the folder. Or add photos with the buttons below (Ctrl+O).\n"+
					"Then click Train: Kata learns the action on this computer,\n"+
					"and the Gallery puts it on any subject: \"a panda <handstand>\".",
				addPhotos, addFolder),
			p.samplesRow())
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
			p.selected, p.photo, p.failed, p.scroll = p.actions[id].ID, 0, nil, nil
			p.m.show(0)
		}
	}
	newAction := widget.NewButtonWithIcon("New action", theme.ContentAddIcon(), func() { p.createAction(app.DefaultActionName) })
	left := container.NewBorder(nil, container.NewVBox(newAction, p.samplesRow()), nil, nil, list)

	a := p.selectedAction()
	nameEntry := p.m.newEntry()
	nameEntry.SetText(a.Name)
	nameEntry.OnSubmitted = func(name string) { p.rename(name) }
	rename := widget.NewButton("Rename", func() { p.rename(nameEntry.Text) })
	summary := widget.NewLabelWithStyle(p.selectedSummary(), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	right := container.NewHBox(rename, summary)
	if a.Identifier != "" {
		right.Add(widget.NewButtonWithIcon("Export identifier…", theme.DownloadIcon(), p.exportIdentifier))
	}
	header := container.NewBorder(nil, nil, nil, right, nameEntry)
	notes := container.NewVBox()
	if len(p.exemplars) < app.MinExemplars {
		notes.Add(wrapped(fmt.Sprintf("%d of at least %d photos: with fewer, Kata learns these pictures rather than the action. "+
			"Add photos of different people doing it.", len(p.exemplars), app.MinExemplars)))
	}
	if len(p.exemplars) > 0 {
		notes.Add(wrapped(fmt.Sprintf("Captions: write %s (or %s) where the action goes; Enter or leaving the caption saves it. Click a photo, then press Delete to remove it (with no photo clicked, Delete removes the action).",
			app.CaptionSlot, a.Trigger)))
	}
	if len(p.failed) > 0 {
		notes.Add(failedList(p.failed))
	}
	var body fyne.CanvasObject
	if len(p.exemplars) == 0 {
		body = emptyState(theme.FileImageIcon(), "No photos yet",
			"Drag photos of this action here, or add them with the buttons below.")
	} else {
		grid := container.NewGridWrap(fyne.NewSize(180, 260))
		for _, e := range p.exemplars {
			grid.Add(p.card(e))
		}
		p.scroll = rescroll(p.scroll, grid)
		body = p.scroll
	}
	p.train.showAction(a)
	bottom := container.NewVBox(container.NewHBox(addPhotos, addFolder), widget.NewSeparator(), p.train.box)
	detail := container.NewBorder(container.NewVBox(header, notes), bottom, nil, nil, body)
	split := container.NewHSplit(left, detail)
	split.Offset = 0.28
	if p.split != nil {
		split.Offset = p.split.Offset
	}
	p.split = split
	return split
}

// card is one exemplar: its thumbnail (click selects it), its editable
// caption with a line showing where the action goes (a long caption
// scrolls it out of the entry's two rows), and a remove button.
func (p *actionsPage) card(e app.ExemplarInfo) fyne.CanvasObject {
	thumb := newThumb(e.Thumb, func() { p.photo = e.ID; p.m.show(0) })
	thumb.selected = e.ID == p.photo
	trigger := p.selectedAction().Trigger
	slot := widget.NewLabel(slotNote(e.Caption, trigger))
	slot.Truncation = fyne.TextTruncateEllipsis
	slot.Importance = widget.LowImportance
	caption := p.m.newCaptionEntry(e.Caption, func(text string) { p.setCaption(e.ID, text) })
	caption.OnChanged = func(text string) { slot.SetText(slotNote(text, trigger)) }
	remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { p.remove(e.ID) })
	below := container.NewVBox(container.NewBorder(nil, nil, nil, remove, caption), slot)
	return container.NewBorder(nil, below, nil, nil, thumb)
}

// slotNote is the card's line under a caption: the words around the
// action's place (trigger or app.CaptionSlot), or what to write when the
// caption has none.
func slotNote(caption, trigger string) string {
	if s := slotExcerpt(caption, trigger, 2); s != "" {
		return s
	}
	return "say where the action goes: " + app.CaptionSlot
}

// slotExcerpt is the part of caption around the first word holding trigger
// or app.CaptionSlot, with up to words words on each side and "…" where
// words were cut; "" when caption has neither.
func slotExcerpt(caption, trigger string, words int) string {
	fields := strings.Fields(caption)
	for i, f := range fields {
		if !strings.Contains(f, app.CaptionSlot) && (trigger == "" || !strings.Contains(f, trigger)) {
			continue
		}
		from, to := max(0, i-words), min(len(fields), i+words+1)
		s := strings.Join(fields[from:to], " ")
		if from > 0 {
			s = "…" + s
		}
		if to < len(fields) {
			s += "…"
		}
		return s
	}
	return ""
}

// failedList shows each file an import could not use, with the reason.
func failedList(failed []app.FileError) fyne.CanvasObject {
	lines := make([]string, 0, len(failed))
	for _, f := range failed {
		lines = append(lines, fmt.Sprintf("Not added: %s: %v", filepath.Base(f.Path), f.Err))
	}
	l := widget.NewLabel(strings.Join(lines, "\n"))
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	return l
}

// samplesRow offers the shipped sample sets: "Try it: handstand ...".
func (p *actionsPage) samplesRow() fyne.CanvasObject {
	row := container.NewHBox(widget.NewLabel("Try it:"))
	for _, name := range app.SampleActions() {
		row.Add(widget.NewButton(name, func() { p.addSample(name) }))
	}
	return container.NewCenter(row)
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

// do runs one library change off the UI goroutine, then reloads the page or
// reports what failed in the status bar.
func (p *actionsPage) do(work func() error, failed string) {
	p.m.bg.run(work, func(err error) {
		if err != nil {
			p.m.setStatus(failed + ": " + err.Error())
			return
		}
		p.m.show(0)
	})
}

func (p *actionsPage) rename(name string) {
	id := p.selected
	p.do(func() error {
		_, err := p.m.svc.RenameAction(id, name)
		return err
	}, "Could not rename")
}

func (p *actionsPage) setCaption(exemplarID int64, caption string) {
	p.do(func() error {
		_, err := p.m.svc.SetCaption(exemplarID, caption)
		return err
	}, "Could not change the caption")
}

func (p *actionsPage) remove(exemplarID int64) {
	if p.photo == exemplarID {
		p.photo = 0
	}
	p.do(func() error { return p.m.svc.RemoveExemplar(exemplarID) }, "Could not remove the photo")
}

func (p *actionsPage) createAction(name string) {
	var created app.ActionInfo
	p.do(func() error {
		var err error
		created, err = p.m.svc.CreateAction(name)
		if err == nil {
			onUI(func() { p.selected = created.ID })
		}
		return err
	}, "Could not create the action")
}

// addPhotos imports dropped or picked paths: folders become actions named
// after them, loose files go to the selected action (or a new one).
func (p *actionsPage) addPhotos(paths []string) {
	target := p.selected
	p.m.setStatus(fmt.Sprintf("Adding %d item(s)…", len(paths)))
	p.imported(func() (app.ImportReport, error) { return p.m.svc.ImportDropped(target, paths) })
}

func (p *actionsPage) addSample(name string) {
	p.m.setStatus("Adding the " + name + " sample…")
	p.imported(func() (app.ImportReport, error) { return p.m.svc.AddSample(name) })
}

// imported runs an import off the UI goroutine, then selects the action the
// photos went to and shows per-file errors on the page.
func (p *actionsPage) imported(work func() (app.ImportReport, error)) {
	var report app.ImportReport
	p.m.bg.run(func() error {
		var err error
		report, err = work()
		return err
	}, func(err error) {
		if err != nil {
			p.m.setStatus("Could not add photos: " + err.Error())
		} else {
			p.m.setStatus(importSummary(report))
		}
		if len(report.Actions) > 0 {
			p.selected = report.Actions[0].ID
		}
		p.photo, p.failed = 0, report.Failed
		p.m.show(0)
	})
}

// exportIdentifier writes the selected action's identifier (.safetensors,
// an embedding other tools load) into a chosen folder.
func (p *actionsPage) exportIdentifier() {
	id := p.selected
	var file string
	p.m.pickThen(func() (string, error) { return p.m.picker.PickFolder("Export the identifier to a folder") },
		func(dir string) error {
			var err error
			file, err = p.m.svc.ExportIdentifier(id, dir)
			return err
		}, "Could not export the identifier",
		func(string) { p.m.setStatus("Identifier saved as " + file) })
}

func (p *actionsPage) addPhotoFromDialog() {
	var paths []string
	p.m.bg.run(func() error {
		var err error
		paths, err = p.m.picker.PickFiles("Add photos of the action", "Images", app.PictureExtensions()...)
		return err
	}, func(err error) {
		switch {
		case err != nil:
			p.m.setStatus("The file dialog failed: " + err.Error())
		case len(paths) > 0:
			p.addPhotos(paths)
		}
	})
}

func (p *actionsPage) addFolderFromDialog() {
	p.m.pickThen(func() (string, error) { return p.m.picker.PickFolder("Add a folder of photos") },
		func(string) error { return nil }, "The file dialog failed",
		func(path string) { p.addPhotos([]string{path}) })
}

// importSummary is the status-bar line after an import.
func importSummary(r app.ImportReport) string {
	parts := []string{fmt.Sprintf("Added %d photo(s)", r.Added)}
	if r.Identifiers > 0 {
		parts[0] += fmt.Sprintf(" and %d identifier(s)", r.Identifiers)
	}
	if len(r.Actions) == 1 {
		parts[0] += " to " + r.Actions[0].Name
	}
	if r.Duplicates > 0 {
		parts = append(parts, fmt.Sprintf("%d already there", r.Duplicates))
	}
	if n := len(r.Failed); n > 0 {
		first := r.Failed[0]
		parts = append(parts, fmt.Sprintf("%d skipped (%s: %v)", n, filepath.Base(first.Path), first.Err))
	}
	return strings.Join(parts, ", ")
}
