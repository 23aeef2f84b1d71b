package ui

import (
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// prefModel is the preference key remembering the chosen model's ID.
const prefModel = "model"

// modelBar picks the base model that training and generation use.
type modelBar struct {
	m      *MainWindow
	models []app.ModelInfo
	choice *widget.Select
	box    *fyne.Container
}

func newModelBar(m *MainWindow) *modelBar {
	b := &modelBar{m: m}
	b.choice = widget.NewSelect(nil, func(name string) {
		for _, mi := range b.models {
			if mi.Name == name {
				m.app.Preferences().SetInt(prefModel, int(mi.ID))
			}
		}
	})
	b.choice.PlaceHolder = "No model yet: add a Stable Diffusion 1.x model"
	folder := widget.NewButtonWithIcon("Add model folder…", theme.FolderOpenIcon(), func() {
		b.add(func() (string, error) { return m.picker.PickFolder("Choose a diffusers model folder") })
	})
	file := widget.NewButtonWithIcon("Add checkpoint…", theme.FileIcon(), func() {
		b.add(func() (string, error) {
			return m.picker.PickFile("Choose a single-file checkpoint", "Checkpoints", "safetensors")
		})
	})
	b.box = container.NewBorder(nil, nil, widget.NewLabel("Model"), container.NewHBox(folder, file), b.choice)
	b.reload()
	return b
}

// reload lists the models and selects the remembered one.
func (b *modelBar) reload() {
	models, err := b.m.svc.Models()
	if err != nil {
		b.m.setStatus("Could not list the models: " + err.Error())
		return
	}
	b.models = models
	names := make([]string, len(models))
	for i, mi := range models {
		names[i] = mi.Name
	}
	b.choice.SetOptions(names)
	want := int64(b.m.app.Preferences().IntWithFallback(prefModel, 0))
	for _, mi := range models {
		if mi.ID == want || (want == 0 && b.choice.Selected == "") {
			b.choice.SetSelected(mi.Name)
		}
	}
}

// selected is the chosen model's ID, 0 when there is none.
func (b *modelBar) selected() int64 {
	for _, mi := range b.models {
		if mi.Name == b.choice.Selected {
			return mi.ID
		}
	}
	return 0
}

func (b *modelBar) add(pick func() (string, error)) {
	var added app.ModelInfo
	b.m.pickThen(pick, func(path string) error {
		timer := newETA()
		var err error
		added, err = b.m.svc.AddModel(path, func(done, total int) {
			fyne.Do(func() { b.m.setStatus(timer.describe("Loading "+filepath.Base(path)+": tensor", done, total)) })
		})
		return err
	}, "Could not add the model", func(string) {
		b.m.app.Preferences().SetInt(prefModel, int(added.ID))
		b.reload()
		b.m.setStatus(fmt.Sprintf("Model %s ready (hash %s)", added.Name, added.Hash))
	})
}
