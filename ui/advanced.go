package ui

import (
	"errors"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// generateForm edits app.GenerateDefaults: the gallery's Advanced row and
// the defaults in Settings use it.
type generateForm struct {
	sampler *widget.Select
	steps   *shortcutEntry
	cfg     *shortcutEntry
	size    *shortcutEntry
	box     *fyne.Container
}

func newGenerateForm(m *MainWindow, d app.GenerateDefaults) *generateForm {
	f := &generateForm{}
	choices := app.SamplerChoices()
	labels := make([]string, len(choices))
	for i, c := range choices {
		labels[i] = c.Label
	}
	f.sampler = widget.NewSelect(labels, nil)
	f.steps = m.newEntry()
	f.cfg = m.newEntry()
	f.size = m.newEntry()
	f.size.SetPlaceHolder("model's own")
	f.set(d)
	short := func(o fyne.CanvasObject, w float32) fyne.CanvasObject {
		return container.NewGridWrap(fyne.NewSize(w, o.MinSize().Height), o)
	}
	f.box = container.NewHBox(
		widget.NewLabel("Sampler"), short(f.sampler, 170),
		widget.NewLabel("Steps"), short(f.steps, 70),
		widget.NewLabel("CFG"), short(f.cfg, 70),
		widget.NewLabel("Size"), short(f.size, 110))
	return f
}

// hideSampler hides the sampler menu (the gallery's options row has one).
func (f *generateForm) hideSampler() {
	f.box.Objects[0].Hide()
	f.box.Objects[1].Hide()
}

// set shows d.
func (f *generateForm) set(d app.GenerateDefaults) {
	for i, c := range app.SamplerChoices() {
		if c.Label == d.Sampler {
			f.sampler.SetSelectedIndex(i)
		}
	}
	f.steps.SetText(strconv.Itoa(d.Steps))
	f.cfg.SetText(strconv.FormatFloat(d.CFG, 'g', -1, 64))
	f.size.SetText("")
	if d.Size != 0 {
		f.size.SetText(strconv.Itoa(d.Size))
	}
}

// settings reads the form; the error names each field that is wrong.
func (f *generateForm) settings() (app.GenerateDefaults, error) {
	var d app.GenerateDefaults
	var errs []error
	if i := f.sampler.SelectedIndex(); i >= 0 {
		d.Sampler = app.SamplerChoices()[i].Label
	}
	var err error
	if d.Steps, err = strconv.Atoi(strings.TrimSpace(f.steps.Text)); err != nil {
		errs = append(errs, errors.New("steps: a whole number"))
	}
	if d.CFG, err = strconv.ParseFloat(strings.TrimSpace(f.cfg.Text), 64); err != nil {
		errs = append(errs, errors.New("CFG: a number such as 7.5"))
	}
	if s := strings.TrimSpace(f.size.Text); s != "" {
		if d.Size, err = strconv.Atoi(s); err != nil {
			errs = append(errs, errors.New("size: a whole number of pixels, or empty"))
		}
	}
	if len(errs) > 0 {
		return d, errors.Join(errs...)
	}
	return d, d.Validate()
}
