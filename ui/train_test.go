package ui

import (
	"context"
	"image"
	"reflect"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"kata/app"
	"kata/model/sd/sdtest"
)

func TestTrainPanelSettings(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{answers: []string{"/photos/contrast"}})
	tp := m.actions.train
	for _, tc := range []struct {
		steps, lr, beta, seed string
		want                  app.TrainSettings
		err                   string
	}{
		{"500", "", "", "", app.TrainSettings{Method: "adi", Steps: 500}, ""},
		{"300", "0.001", "0.7", "9", app.TrainSettings{Method: "adi", Steps: 300, LR: 0.001, Beta: 0.7, Seed: 9}, ""},
		{"x", "", "", "", app.TrainSettings{}, "steps"},
		{"500", "fast", "", "", app.TrainSettings{}, "learning rate"},
		{"500", "", "2", "", app.TrainSettings{}, "beta"},
	} {
		tp.steps.SetText(tc.steps)
		tp.lr.SetText(tc.lr)
		tp.beta.SetText(tc.beta)
		tp.seedText.SetText(tc.seed)
		got, err := tp.settings()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want one naming %s", tc, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%+v: got %+v, %v", tc, got, err)
		}
	}
	tp.steps.SetText("500")
	tp.lr.SetText("")
	tp.beta.SetText("")
	tp.pickContrast()
	m.WaitIdle()
	if got, err := tp.settings(); err != nil || !reflect.DeepEqual(got.ContrastPhotos, []string{"/photos/contrast"}) {
		t.Fatalf("contrast photos %v, %v", got.ContrastPhotos, err)
	}
	if !strings.Contains(tp.contrastLabel.Text, "/photos/contrast") {
		t.Fatalf("contrast label %q", tp.contrastLabel.Text)
	}
}

func TestTrainPanelShowsProgress(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	tp := m.actions.train
	for step := 1; step <= 3; step++ {
		tp.show(app.TrainProgress{Step: step, Steps: 10, Smoothed: 1 / float64(step), ETA: 1e9})
	}
	if tp.progress.Value != 0.3 || len(tp.plot.losses) != 3 || !strings.Contains(tp.info.Text, "Step 3 of 10") || !strings.Contains(tp.info.Text, "left") {
		t.Fatalf("progress %v, plot %v, info %q", tp.progress.Value, tp.plot.losses, tp.info.Text)
	}
}

// previewServices trains by script: two steps with a preview between them,
// reported from the training goroutine as app.Kata does.
type previewServices struct {
	*app.Kata
	settings app.TrainSettings
}

func (p *previewServices) Train(_ context.Context, actionID, _ int64, s app.TrainSettings,
	progress func(app.TrainProgress)) (app.ActionInfo, error) {
	p.settings = s
	progress(app.TrainProgress{Step: 1, Steps: 2, Loss: 0.5, Smoothed: 0.5})
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	progress(app.TrainProgress{Step: 1, Steps: 2, Preview: img, PreviewPrompt: "a robot <salute>"})
	progress(app.TrainProgress{Step: 2, Steps: 2, Loss: 0.4, Smoothed: 0.45})
	return app.ActionInfo{ID: actionID, Name: "salute", Trigger: "<salute>", Identifier: "ADI v1, 2 steps"}, nil
}

// TestTrainPanelShowsPreview checks that a preview drawn during a run
// reaches the Train page through fyne.Do, captioned with its step and
// prompt, without a point in the loss plot, and stays after the run ends;
// and that the Advanced "Preview every" field reaches the settings.
func TestTrainPanelShowsPreview(t *testing.T) {
	t.Setenv(app.EnvBuiltinModel, sdtest.TinyDir())
	svc := &previewServices{Kata: newTestServices(t)}
	if _, err := svc.CreateAction("salute"); err != nil {
		t.Fatal(err)
	}
	m := newTestWindowWith(t, &scriptedPicker{}, svc)
	m.show(0)
	m.WaitIdle()
	tp := m.actions.train
	for _, tc := range []struct {
		every string
		want  int
	}{{"", 0}, {"7", 7}, {"0", -1}} {
		tp.previewEvery.SetText(tc.every)
		test.Tap(tp.train)
		m.WaitIdle()
		if svc.settings.PreviewEvery != tc.want {
			t.Errorf("preview every %q: settings say %d, want %d", tc.every, svc.settings.PreviewEvery, tc.want)
		}
		if tp.preview.Image == nil || tp.previewInfo.Text != "Step 1: a robot <salute>" {
			t.Fatalf("preview %v, caption %q (info %q)", tp.preview.Image, tp.previewInfo.Text, tp.info.Text)
		}
		if !reflect.DeepEqual(tp.plot.steps, []int{1, 2}) {
			t.Fatalf("loss plot steps %v, want [1 2]", tp.plot.steps)
		}
		if !strings.Contains(tp.info.Text, "Done") {
			t.Fatalf("info %q", tp.info.Text)
		}
	}
	tp.previewEvery.SetText("often")
	if _, err := tp.settings(); err == nil || !strings.Contains(err.Error(), "preview every") {
		t.Fatalf("a bad preview interval gave %v", err)
	}
}
