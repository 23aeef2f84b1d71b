package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// settingsPage shows and changes the model, compute backend, library folder
// and generation defaults, remembered with Fyne preferences.
type settingsPage struct {
	m        *MainWindow
	models   []app.ModelInfo
	detected []string // what each app.BackendChoices entry resolves to here
	inUse    string   // Services.BackendInUse at the last load
	library  string
	backend  *widget.Select
	defaults *generateForm
}

func newSettingsPage(m *MainWindow) *settingsPage {
	p := &settingsPage{m: m}
	labels := make([]string, len(app.BackendChoices))
	for i, c := range app.BackendChoices {
		labels[i] = c.Label
	}
	p.backend = widget.NewSelect(labels, nil)
	want := m.app.Preferences().StringWithFallback(prefBackend, "auto")
	for i, c := range app.BackendChoices {
		if c.Setting == want {
			p.backend.SetSelectedIndex(i)
		}
	}
	p.backend.OnChanged = func(string) { p.setBackend() }
	if want != "auto" {
		p.setBackend() // apply the remembered choice
	}
	p.defaults = newGenerateForm(m, generateDefaults(m.app.Preferences()))
	return p
}

// load lists the models, detects the backends and asks which one the loaded
// model runs on; it runs off the UI goroutine.
func (p *settingsPage) load() error {
	models, err := p.m.svc.Models()
	inUse := p.m.svc.BackendInUse()
	var detected []string
	onUI(func() { detected = p.detected })
	if detected == nil { // probing for PJRT plugins can take a moment: once
		detected = app.DetectBackend()
	}
	dir := p.m.svc.LibraryDir()
	onUI(func() { p.models, p.detected, p.library, p.inUse = models, detected, dir, inUse })
	return err
}

func (p *settingsPage) render() fyne.CanvasObject {
	models := container.NewVBox()
	if len(p.models) == 0 {
		models.Add(wrapped("No model yet. Add a Stable Diffusion 1.x model: a diffusers folder or a .safetensors checkpoint."))
	}
	for _, mi := range p.models {
		models.Add(wrapped(fmt.Sprintf("%s  · %s  · %s", mi.Name, mi.Kind, mi.Path)))
	}
	addFolder := widget.NewButtonWithIcon("Add model folder…", theme.FolderOpenIcon(), p.m.models.addFolder)
	addFile := widget.NewButtonWithIcon("Add checkpoint…", theme.FileIcon(), p.m.models.addFile)
	models.Add(container.NewHBox(addFolder, addFile))

	detected := container.NewVBox()
	for i, c := range app.BackendChoices {
		if i < len(p.detected) {
			detected.Add(wrapped(c.Label + ": " + p.detected[i]))
		}
	}
	compute := container.NewVBox(container.NewHBox(widget.NewLabel("Run models on"), p.backend), p.inUseView(), detected)

	library := container.NewVBox(wrapped(p.library),
		widget.NewButtonWithIcon("Use another library folder…", theme.FolderOpenIcon(), p.chooseLibrary))

	save := widget.NewButtonWithIcon("Save defaults", theme.DocumentSaveIcon(), p.saveDefaults)
	gen := container.NewVBox(p.defaults.box, container.NewHBox(save))

	return container.NewVScroll(container.NewVBox(
		widget.NewCard("Model", "Training and generation use the model chosen in the top bar.", models),
		widget.NewCard("Compute", "", compute),
		widget.NewCard("Library", "Where Kata keeps photos, identifiers and images.", library),
		widget.NewCard("Generation defaults", "What the Gallery starts with.", gen),
		widget.NewLabel("Light and dark theme follow the system."),
	))
}

// backendWarning separates, in Services.BackendInUse, what a GPU that failed
// and fell back to the CPU reported.
const backendWarning = "; WARNING: "

// inUseView says which backend the loaded model runs on and, below it, the
// fallback warning in the theme's warning colour with its icon.
func (p *settingsPage) inUseView() fyne.CanvasObject {
	if p.inUse == "" {
		return wrapped("In use: no model loaded yet (one loads for the first training or image).")
	}
	desc, warning, fellBack := strings.Cut(p.inUse, backendWarning)
	inUse := wrapped("In use: " + desc)
	if !fellBack {
		return inUse
	}
	warn := wrapped("Warning: " + warning)
	warn.Importance = widget.WarningImportance
	return container.NewVBox(inUse, container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, warn))
}

// setBackend applies and remembers the chosen backend, or reverts the menu
// when this computer cannot run it.
func (p *settingsPage) setBackend() {
	i := p.backend.SelectedIndex()
	if i < 0 {
		return
	}
	choice := app.BackendChoices[i]
	var got string
	p.m.bg.run(func() error {
		var err error
		got, err = p.m.svc.SetBackend(choice.Setting)
		return err
	}, func(err error) {
		if err != nil {
			p.m.setStatus("Cannot use " + choice.Label + ": " + err.Error())
			p.backend.SetSelected(app.BackendChoices[0].Label)
			return
		}
		p.m.app.Preferences().SetString(prefBackend, choice.Setting)
		p.m.setStatus("Models now run on " + got)
	})
}

func (p *settingsPage) chooseLibrary() {
	p.m.pickThen(func() (string, error) { return p.m.picker.PickFolder("Choose the library folder") },
		func(string) error { return nil }, "The file dialog failed",
		func(dir string) {
			p.m.app.Preferences().SetString(PrefLibrary, dir)
			p.m.setStatus("Kata opens the library in " + dir + " at its next start.")
		})
}

func (p *settingsPage) saveDefaults() {
	d, err := p.defaults.settings()
	if err != nil {
		p.m.setStatus("Not saved: " + err.Error())
		return
	}
	saveGenerateDefaults(p.m.app.Preferences(), d)
	p.m.gallery.advanced.set(d)
	p.m.setStatus("Generation defaults saved.")
}

// wrapped is a label that wraps at word boundaries, so long text (paths,
// explanations) never widens the window.
func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}
