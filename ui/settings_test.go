package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"kata/app"
	"kata/model/sd/sdtest"
)

func showPage(t *testing.T, m *MainWindow, title string) {
	t.Helper()
	for i, pg := range m.pages {
		if pg.title == title {
			m.sidebar.Select(i)
			m.WaitIdle()
			return
		}
	}
	t.Fatalf("no page %q", title)
}

func TestSettingsPage(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	showPage(t, m, "Settings")
	shown := texts(m.Window().Content())
	for _, want := range []string{"No model yet", "Automatic: ", "CPU: ", m.svc.LibraryDir(), "Light and dark theme follow the system"} {
		if !strings.Contains(shown, want) {
			t.Errorf("settings lack %q:\n%s", want, shown)
		}
	}
	m.settings.backend.SetSelectedIndex(1) // CPU
	m.WaitIdle()
	if got := m.app.Preferences().String(prefBackend); got != "go" || !strings.Contains(m.Status(), "Models now run on") {
		t.Fatalf("backend pref %q, status %q", got, m.Status())
	}

	m.settings.defaults.steps.SetText("0")
	test.Tap(findButton(t, m.Window().Content(), "Save defaults"))
	if !strings.Contains(m.Status(), "Not saved: steps 0") {
		t.Fatalf("bad steps: status %q", m.Status())
	}
	m.settings.defaults.steps.SetText("12")
	m.settings.defaults.size.SetText("256")
	test.Tap(findButton(t, m.Window().Content(), "Save defaults"))
	want := app.DefaultGenerateSettings
	want.Steps, want.Size = 12, 256
	if got := generateDefaults(m.app.Preferences()); got != want {
		t.Fatalf("saved %+v, want %+v", got, want)
	}
	if got, err := m.gallery.advanced.settings(); err != nil || got != want {
		t.Fatalf("gallery's advanced row %+v, %v", got, err)
	}
}

func TestFirstRunSelectsBuiltinModel(t *testing.T) {
	t.Setenv(app.EnvBuiltinModel, sdtest.TinyDir())
	m := newTestWindow(t, &scriptedPicker{})
	m.WaitIdle()
	if len(m.models.models) != 1 || !m.models.models[0].Builtin || m.models.selected() != m.models.models[0].ID {
		t.Fatalf("models %+v, selected %d", m.models.models, m.models.selected())
	}
	if got := m.models.choice.Selected; got != app.BuiltinModelName {
		t.Fatalf("model bar shows %q", got)
	}
}

// TestPagesFitTheWindow checks that no page needs more room than the
// default window (which fits a 1280x800 screen), so nothing is cut off.
func TestPagesFitTheWindow(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	test.Tap(findButton(t, m.Window().Content(), "salute"))
	m.WaitIdle()
	for _, pg := range m.pages {
		showPage(t, m, pg.title)
		if got := m.Window().Content().MinSize(); got.Width > defaultSize.Width || got.Height > defaultSize.Height {
			t.Errorf("page %s needs %v, more than the window's %v", pg.title, got, defaultSize)
		}
	}
}
