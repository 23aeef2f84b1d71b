package ui

import (
	"reflect"
	"strings"
	"testing"

	"kata/app"
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
