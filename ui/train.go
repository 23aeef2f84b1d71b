package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// methods maps the method menu's labels to app.TrainSettings.Method.
var methods = []struct{ label, value string }{
	{"ADI (recommended)", "adi"},
	{"P+", "p+"},
	{"Textual inversion", "ti"},
}

// trainPanel starts, follows and cancels a training run. It outlives page
// re-renders, so a run keeps reporting while the designer looks elsewhere.
type trainPanel struct {
	m             *MainWindow
	method        *widget.Select
	steps         *widget.Entry
	train         *widget.Button
	cancel        *widget.Button
	progress      *widget.ProgressBar
	info          *widget.Label
	preview       *canvas.Image
	previewInfo   *widget.Label // the preview's step and prompt
	previewEvery  *widget.Entry
	plot          *lossPlot
	lr            *widget.Entry
	beta          *widget.Entry
	seedText      *widget.Entry
	contrast      []string // the user's contrast photos, nil to synthesise
	contrastLabel *widget.Label
	box           *fyne.Container

	stop     context.CancelFunc // non-nil while a run is going
	actionID int64              // the action being trained
	seed     uint64             // a paused run's seed, so Train resumes it
	finished int64              // the action whose run just ended, 0 for none
	result   string             // what that run's end said
}

// training says whether a training run is going (it holds the model, so
// generations wait for it).
func (m *MainWindow) training() bool { return m.actions.train.stop != nil }

func newTrainPanel(m *MainWindow, selectedAction func() int64) *trainPanel {
	t := &trainPanel{m: m}
	labels := make([]string, len(methods))
	for i, md := range methods {
		labels[i] = md.label
	}
	t.method = widget.NewSelect(labels, nil)
	t.method.SetSelectedIndex(0)
	t.steps = widget.NewEntry()
	t.steps.SetText(strconv.Itoa(app.DefaultTrainSteps))
	t.steps.Validator = func(s string) error {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 100000 {
			return errors.New("steps: a whole number from 1 to 100000")
		}
		return nil
	}
	t.progress = widget.NewProgressBar()
	t.info = widget.NewLabel("")
	t.preview = canvas.NewImageFromImage(nil)
	t.preview.FillMode = canvas.ImageFillContain
	t.preview.SetMinSize(fyne.NewSize(112, 112))
	t.previewInfo = widget.NewLabel("")
	t.previewInfo.Wrapping = fyne.TextWrapWord
	t.previewEvery = widget.NewEntry()
	t.previewEvery.SetPlaceHolder("auto")
	t.train = widget.NewButtonWithIcon("Train", theme.MediaPlayIcon(), func() { t.start(selectedAction()) })
	t.train.Importance = widget.HighImportance
	t.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if t.stop != nil {
			t.stop()
		}
	})
	t.cancel.Disable()
	t.plot = newLossPlot()
	t.lr = widget.NewEntry()
	t.lr.SetPlaceHolder("default")
	t.beta = widget.NewEntry()
	t.beta.SetPlaceHolder("0.5")
	t.seedText = widget.NewEntry()
	t.seedText.SetPlaceHolder("0")
	t.contrastLabel = widget.NewLabel("Contrast photos: made by Kata")
	pickContrast := widget.NewButtonWithIcon("Contrast photos…", theme.FolderOpenIcon(), t.pickContrast)
	clearContrast := widget.NewButtonWithIcon("", theme.ContentClearIcon(), func() { t.setContrast(nil) })
	short := func(o fyne.CanvasObject, w float32) fyne.CanvasObject {
		return container.NewGridWrap(fyne.NewSize(w, o.MinSize().Height), o)
	}
	advanced := container.NewVBox(
		container.NewHBox(widget.NewLabel("Method"), short(t.method, 210), widget.NewLabel("Steps"), short(t.steps, 90)),
		container.NewHBox(widget.NewLabel("Learning rate"), short(t.lr, 90), widget.NewLabel("Beta"), short(t.beta, 70),
			widget.NewLabel("Seed"), short(t.seedText, 90)),
		container.NewHBox(widget.NewLabel("Preview every"), short(t.previewEvery, 70), widget.NewLabel("steps (0: no previews)")),
		container.NewHBox(pickContrast, clearContrast, t.contrastLabel))
	controls := container.NewHBox(t.train, t.cancel)
	left := container.NewVBox(controls, widget.NewAccordion(widget.NewAccordionItem("Advanced", advanced)), t.progress, t.info)
	previewBox := container.NewBorder(nil, container.NewGridWrap(fyne.NewSize(112, 3*t.previewInfo.MinSize().Height), t.previewInfo), nil, nil, t.preview)
	t.box = container.NewBorder(nil, nil, nil, container.NewHBox(t.plot, previewBox), left)
	return t
}

func (t *trainPanel) start(actionID int64) {
	if actionID == 0 || t.stop != nil {
		return
	}
	modelID := t.m.models.selected()
	if modelID == 0 {
		t.m.setStatus("Add a model first (top bar): training needs a Stable Diffusion 1.x model.")
		return
	}
	if err := t.steps.Validate(); err != nil {
		t.m.setStatus(err.Error())
		return
	}
	settings, err := t.settings()
	if err != nil {
		t.m.setStatus("Training settings: " + err.Error())
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	t.stop, t.actionID = stop, actionID
	t.train.Disable()
	t.cancel.Enable()
	t.progress.SetValue(0)
	t.plot.reset()
	t.clearPreview()
	t.finished = 0
	t.info.SetText("Starting…")
	var result app.ActionInfo
	t.m.bg.run(func() error {
		var err error
		result, err = t.m.svc.Train(ctx, actionID, modelID, settings, func(p app.TrainProgress) {
			onUIAsync(func() { t.show(p) })
		})
		return err
	}, func(err error) {
		stop()
		t.stop = nil
		t.train.Enable()
		t.cancel.Disable()
		switch {
		case errors.Is(err, context.Canceled):
			t.info.SetText("Paused. Click Train with the same settings to resume.")
		case err != nil:
			t.info.SetText("Training failed: " + err.Error())
		default:
			t.m.show(0) // first: re-rendering resets the panel for the selected action
			t.progress.SetValue(1)
			done := fmt.Sprintf("Done: %s learned (%s). Use %s in the Gallery.", result.Name, result.Identifier, result.Trigger)
			t.info.SetText(done)
			t.finished, t.result = actionID, done // kept when the page re-renders
			t.m.app.SendNotification(fyne.NewNotification("Kata: "+result.Name+" learned", done))
		}
	})
}

// showAction sets the panel up for the selected action: a paused run's
// settings are filled in so that Train resumes it.
func (t *trainPanel) showAction(a app.ActionInfo) {
	if t.stop != nil {
		return // a run is going; keep showing its progress
	}
	if a.ID != 0 && a.ID == t.finished && a.Paused == nil {
		t.progress.SetValue(1)
		t.info.SetText(t.result)
		return
	}
	t.finished = 0
	t.seed = 0
	t.seedText.SetText("")
	t.lr.SetText("")
	t.beta.SetText("")
	t.setContrast(nil)
	t.plot.reset()
	t.clearPreview()
	t.progress.SetValue(0)
	t.info.SetText("")
	if a.ID == 0 || a.Paused == nil {
		return
	}
	s := a.Paused.Settings
	for i, md := range methods {
		if md.value == s.Method {
			t.method.SetSelectedIndex(i)
		}
	}
	t.steps.SetText(strconv.Itoa(s.Steps))
	t.seed = s.Seed
	t.seedText.SetText(strconv.FormatUint(s.Seed, 10))
	if s.LR != 0 {
		t.lr.SetText(strconv.FormatFloat(s.LR, 'g', -1, 64))
	}
	if s.Beta != 0 {
		t.beta.SetText(strconv.FormatFloat(s.Beta, 'g', -1, 64))
	}
	t.setContrast(s.ContrastPhotos)
	t.progress.SetValue(a.Paused.Progress)
	t.info.SetText(fmt.Sprintf("A %d-step run stopped at %.0f%%: click Train to resume it.", s.Steps, 100*a.Paused.Progress))
}

// show displays one progress report; it runs on the UI goroutine. A
// preview replaces the previous one, captioned with its step and prompt.
func (t *trainPanel) show(p app.TrainProgress) {
	if p.Preview != nil {
		t.preview.Image = p.Preview
		t.preview.Refresh()
		t.previewInfo.SetText(fmt.Sprintf("Step %d: %s", p.Step, p.PreviewPrompt))
		return
	}
	if p.Steps == 0 || p.Step == 0 {
		if p.Message != "" {
			t.info.SetText(p.Message)
		}
		return
	}
	t.progress.SetValue(float64(p.Step) / float64(p.Steps))
	t.plot.add(p.Step, p.Smoothed)
	t.info.SetText(fmt.Sprintf("Step %d of %d · loss %.4f · about %s left", p.Step, p.Steps, p.Smoothed, roundETA(p.ETA)))
}

// clearPreview forgets the last run's preview.
func (t *trainPanel) clearPreview() {
	t.preview.Image = nil
	t.preview.Refresh()
	t.previewInfo.SetText("")
}

// roundETA keeps an ETA readable: seconds under a minute, else minutes.
func roundETA(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}

// settings reads the panel into app.TrainSettings; empty fields take app's
// defaults, and the error names each field that is wrong.
func (t *trainPanel) settings() (app.TrainSettings, error) {
	s := app.TrainSettings{Method: methods[max(t.method.SelectedIndex(), 0)].value, Seed: t.seed, ContrastPhotos: t.contrast}
	var errs []error
	var err error
	if s.Steps, err = strconv.Atoi(strings.TrimSpace(t.steps.Text)); err != nil {
		errs = append(errs, errors.New("steps: a whole number"))
	}
	num := func(e *widget.Entry, name string, into *float64) {
		if v := strings.TrimSpace(e.Text); v != "" {
			if *into, err = strconv.ParseFloat(v, 64); err != nil {
				errs = append(errs, fmt.Errorf("%s: a number, or empty for the default", name))
			}
		}
	}
	if v := strings.TrimSpace(t.previewEvery.Text); v != "" {
		if s.PreviewEvery, err = strconv.Atoi(v); err != nil || s.PreviewEvery < 0 {
			errs = append(errs, errors.New("preview every: a whole number of steps, 0 for none, or empty for the default"))
		} else if s.PreviewEvery == 0 {
			s.PreviewEvery = -1
		}
	}
	num(t.lr, "learning rate", &s.LR)
	num(t.beta, "beta", &s.Beta)
	if v := strings.TrimSpace(t.seedText.Text); v != "" {
		if s.Seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			errs = append(errs, errors.New("seed: a whole number"))
		}
	}
	if len(errs) > 0 {
		return s, errors.Join(errs...)
	}
	return s, s.Validate()
}

// pickContrast asks for a folder of contrast photos.
func (t *trainPanel) pickContrast() {
	t.m.pickThen(func() (string, error) { return t.m.picker.PickFolder("Choose a folder of contrast photos") },
		func(string) error { return nil }, "The file dialog failed",
		func(dir string) { t.setContrast([]string{dir}) })
}

func (t *trainPanel) setContrast(paths []string) {
	t.contrast = paths
	if len(paths) == 0 {
		t.contrastLabel.SetText("Contrast photos: made by Kata")
		return
	}
	t.contrastLabel.SetText("Contrast photos: " + strings.Join(paths, ", "))
}
