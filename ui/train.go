package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
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
	m        *MainWindow
	method   *widget.Select
	steps    *widget.Entry
	train    *widget.Button
	cancel   *widget.Button
	progress *widget.ProgressBar
	info     *widget.Label
	preview  *canvas.Image
	box      *fyne.Container

	stop     context.CancelFunc // non-nil while a run is going
	actionID int64              // the action being trained
	seed     uint64             // a paused run's seed, so Train resumes it
}

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
	t.preview.SetMinSize(fyne.NewSize(128, 128))
	t.train = widget.NewButtonWithIcon("Train", theme.MediaPlayIcon(), func() { t.start(selectedAction()) })
	t.train.Importance = widget.HighImportance
	t.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if t.stop != nil {
			t.stop()
		}
	})
	t.cancel.Disable()
	stepsBox := container.NewGridWrap(fyne.NewSize(110, t.steps.MinSize().Height), t.steps)
	methodBox := container.NewGridWrap(fyne.NewSize(210, t.method.MinSize().Height), t.method)
	controls := container.NewHBox(widget.NewLabel("Method"), methodBox, widget.NewLabel("Steps"), stepsBox, t.train, t.cancel)
	t.box = container.NewBorder(nil, nil, nil, t.preview, container.NewVBox(controls, t.progress, t.info))
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
	steps, _ := strconv.Atoi(t.steps.Text)
	settings := app.TrainSettings{Method: methods[t.method.SelectedIndex()].value, Steps: steps, Seed: t.seed}
	ctx, stop := context.WithCancel(context.Background())
	t.stop, t.actionID = stop, actionID
	t.train.Disable()
	t.cancel.Enable()
	t.progress.SetValue(0)
	t.info.SetText("Starting…")
	var result app.ActionInfo
	t.m.bg.run(func() error {
		var err error
		result, err = t.m.svc.Train(ctx, actionID, modelID, settings, func(p app.TrainProgress) {
			fyne.Do(func() { t.show(p) })
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
			t.info.SetText(fmt.Sprintf("Done: %s learned (%s). Use %s in the Gallery.", result.Name, result.Identifier, result.Trigger))
		}
	})
}

// showAction sets the panel up for the selected action: a paused run's
// settings are filled in so that Train resumes it.
func (t *trainPanel) showAction(a app.ActionInfo) {
	if t.stop != nil {
		return // a run is going; keep showing its progress
	}
	t.seed = 0
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
	t.progress.SetValue(a.Paused.Progress)
	t.info.SetText(fmt.Sprintf("A %d-step run stopped at %.0f%%: click Train to resume it.", s.Steps, 100*a.Paused.Progress))
}

// show displays one progress report; it runs on the UI goroutine.
func (t *trainPanel) show(p app.TrainProgress) {
	if p.Preview != nil {
		t.preview.Image = p.Preview
		t.preview.Refresh()
	}
	if p.Steps == 0 || p.Step == 0 {
		if p.Message != "" {
			t.info.SetText(p.Message)
		}
		return
	}
	t.progress.SetValue(float64(p.Step) / float64(p.Steps))
	t.info.SetText(fmt.Sprintf("Step %d of %d · loss %.4f · about %s left", p.Step, p.Steps, p.Smoothed, roundETA(p.ETA)))
}

// roundETA keeps an ETA readable: seconds under a minute, else minutes.
func roundETA(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(time.Minute)
}
