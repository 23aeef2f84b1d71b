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

// prefModel is the preference key remembering the chosen model's ID;
// prefBuiltin remembers the path of the built-in model the window last
// switched to, so that a newly shipped built-in model is selected once.
const (
	prefModel   = "model"
	prefBuiltin = "builtinModel"
)

// modelBar picks the base model that training and generation use.
type modelBar struct {
	m      *MainWindow
	models []app.ModelInfo
	choice *widget.Select
	box    *fyne.Container
}

func newModelBar(m *MainWindow) *modelBar {
	b := &modelBar{m: m}
	b.choice = widget.NewSelect(nil, func(string) {
		if id := b.selected(); id != 0 {
			m.app.Preferences().SetInt(prefModel, int(id))
		}
	})
	b.choice.PlaceHolder = "No model yet: add a Stable Diffusion 1.x model"
	folder := widget.NewButtonWithIcon("Add model folder…", theme.FolderOpenIcon(), b.addFolder)
	file := widget.NewButtonWithIcon("Add checkpoint…", theme.FileIcon(), b.addFile)
	b.box = container.NewBorder(nil, nil, widget.NewLabel("Model"), container.NewHBox(folder, file), b.choice)
	b.start()
	return b
}

// start records the built-in model on first run (off the UI goroutine),
// then lists the models. The window opens on the built-in model the first
// time it exists (also when another model was chosen before it shipped);
// after that it opens on the model chosen last.
func (b *modelBar) start() {
	var builtin app.ModelInfo
	var ok bool
	report := throttle{every: reportEvery}
	b.m.bg.run(func() error {
		var err error
		builtin, ok, err = b.m.svc.AddBuiltinModel(func(done, total int) {
			if report.due(done, total) {
				onUIAsync(func() { b.m.setStatus(fmt.Sprintf("Preparing %s: tensor %d of %d", app.BuiltinModelName, done, total)) })
			}
		})
		return err
	}, func(err error) {
		if err != nil {
			b.m.setStatus("The built-in model could not be loaded: " + err.Error())
		} else if strings.HasPrefix(b.m.Status(), "Preparing") {
			b.m.setStatus("")
		}
		if prefs := b.m.app.Preferences(); ok && prefs.String(prefBuiltin) != builtin.Path {
			prefs.SetInt(prefModel, int(builtin.ID))
			prefs.SetString(prefBuiltin, builtin.Path)
		}
		b.reload()
	})
}

// reload lists the models off the UI goroutine, then selects the remembered
// one (the first, the built-in model when there is one, on first run).
func (b *modelBar) reload() {
	var models []app.ModelInfo
	b.m.bg.run(func() error {
		var err error
		models, err = b.m.svc.Models()
		return err
	}, func(err error) {
		if err != nil {
			b.m.setStatus("Could not list the models: " + err.Error())
			return
		}
		b.show(models)
	})
}

// show puts models in the list and selects the remembered one.
func (b *modelBar) show(models []app.ModelInfo) {
	b.models = models
	b.choice.SetOptions(modelLabels(models))
	want := int64(b.m.app.Preferences().IntWithFallback(prefModel, 0))
	for i, mi := range models {
		if mi.ID == want || (want == 0 && b.choice.SelectedIndex() < 0) {
			b.choice.SetSelectedIndex(i)
		}
	}
}

// modelLabels are the choices of the model list, one per model in order: the
// model's name, with its path where two models share a name (models are told
// apart by path).
func modelLabels(models []app.ModelInfo) []string {
	count := map[string]int{}
	for _, mi := range models {
		count[mi.Name]++
	}
	out := make([]string, len(models))
	for i, mi := range models {
		out[i] = mi.Name
		if count[mi.Name] > 1 {
			out[i] = fmt.Sprintf("%s (%s)", mi.Name, mi.Path)
		}
	}
	return out
}

// selected is the chosen model's ID, 0 when there is none. The choice is
// found by its position, never by its label.
func (b *modelBar) selected() int64 {
	if i := b.choice.SelectedIndex(); i >= 0 && i < len(b.models) {
		return b.models[i].ID
	}
	return 0
}

func (b *modelBar) addFolder() {
	b.add(func() (string, error) { return b.m.picker.PickFolder("Choose a diffusers model folder") })
}

func (b *modelBar) addFile() {
	b.add(func() (string, error) {
		return b.m.picker.PickFile("Choose a single-file checkpoint", "Checkpoints", "safetensors")
	})
}

func (b *modelBar) add(pick func() (string, error)) {
	var added app.ModelInfo
	b.m.pickThen(pick, func(path string) error {
		timer, report := newETA(), throttle{every: reportEvery}
		var err error
		added, err = b.m.svc.AddModel(path, func(done, total int) {
			if report.due(done, total) {
				onUIAsync(func() { b.m.setStatus(timer.describe("Loading "+filepath.Base(path)+": tensor", done, total)) })
			}
		})
		return err
	}, "Could not add the model", func(string) {
		b.m.app.Preferences().SetInt(prefModel, int(added.ID))
		b.reload()
		b.m.setStatus(fmt.Sprintf("Model %s ready (hash %s)", added.Name, added.Hash))
	})
}
