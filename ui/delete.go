package ui

import (
	"fmt"

	"fyne.io/fyne/v2/dialog"
)

// deleteKey is the Delete key: on the Actions page it removes the clicked
// photo, or the selected action when no photo is clicked; on the Gallery the
// ticked images. Each asks first, since none can be undone.
func (m *MainWindow) deleteKey() {
	switch m.selected {
	case 0:
		m.actions.removeSelected()
	case galleryPageIndex:
		m.gallery.deleteChosen()
	}
}

// confirmDelete asks question (with detail below it) and runs remove when
// the designer confirms. The open question is kept for tests (deleteDialog).
func (m *MainWindow) confirmDelete(question, detail string, remove func()) {
	m.deleteDialog = dialog.NewCustomConfirm(question, "Delete", "Cancel", wrapped(detail), func(ok bool) {
		m.deleteDialog = nil
		if ok {
			remove()
		}
	}, m.win)
	m.deleteDialog.Show()
}

// removeSelected removes the clicked photo, else the selected action (the
// Delete key), after asking.
func (p *actionsPage) removeSelected() {
	if p.photo != 0 {
		id := p.photo
		p.m.confirmDelete("Remove this photo?", "The photo leaves the action; the file on your disk stays.", func() {
			p.photo = 0
			p.remove(id)
		})
		return
	}
	a := p.selectedAction()
	if a.ID == 0 {
		return
	}
	if p.train.stop != nil && p.train.actionID == a.ID {
		p.m.setStatus("This action is training: cancel the run before deleting it.")
		return
	}
	detail := fmt.Sprintf("%s (%s) and its %d photo(s) leave the library", a.Name, a.Trigger, a.Exemplars)
	if a.Identifier != "" {
		detail += ", with what Kata learned (" + a.Identifier + ")"
	}
	detail += ". Images made with it stay in the Gallery. This cannot be undone."
	p.m.confirmDelete("Delete the action "+a.Name+"?", detail, func() {
		p.do(func() error {
			if err := p.m.svc.RemoveAction(a.ID); err != nil {
				return err
			}
			onUI(func() { p.selected, p.photo = 0, 0 })
			return nil
		}, "Could not delete the action")
	})
}

// deleteChosen deletes the ticked images after asking (the Delete key, the
// Delete… button).
func (p *galleryPage) deleteChosen() {
	ids := p.chosen()
	if len(ids) == 0 {
		p.m.setStatus("Tick the images to delete first (the box under each image).")
		return
	}
	p.m.confirmDelete(fmt.Sprintf("Delete %d image(s)?", len(ids)),
		"They leave the gallery and the library's folder; exported copies stay. This cannot be undone.", func() {
			p.m.bg.run(func() error { return p.m.svc.RemoveGenerations(ids) }, func(err error) {
				if err != nil {
					p.m.setStatus("Could not delete: " + err.Error())
				} else {
					p.m.setStatus(fmt.Sprintf("Deleted %d image(s).", len(ids)))
				}
				for _, id := range ids {
					delete(p.selected, id)
				}
				p.m.show(galleryPageIndex)
			})
		})
}
