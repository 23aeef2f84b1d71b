package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

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
	t.Setenv(app.EnvBuiltinModel, "none") // a build without a model
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

// TestBuiltinModelFirst checks that the built-in model is listed first and
// selected when it appears, also after another model was chosen before it
// existed, and that a later choice is then remembered.
func TestBuiltinModelFirst(t *testing.T) {
	svc := newTestServices(t)
	// The other model is the fixture under another path (links to its parts).
	otherDir := t.TempDir()
	for _, part := range []string{"model_index.json", "scheduler", "text_encoder", "tokenizer", "unet", "vae"} {
		if err := os.Symlink(filepath.Join(sdtest.TinyDir(), part), filepath.Join(otherDir, part)); err != nil {
			t.Fatal(err)
		}
	}
	other, err := svc.AddModel(otherDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := test.NewTempApp(t)
	a.Preferences().SetInt(prefModel, int(other.ID))
	t.Setenv(app.EnvBuiltinModel, sdtest.TinyDir())
	open := func() *MainWindow {
		m := NewMainWindow(a, svc, &scriptedPicker{})
		t.Cleanup(m.Window().Close)
		m.WaitIdle()
		return m
	}
	m := open()
	if len(m.models.models) != 2 || !m.models.models[0].Builtin || m.models.choice.Options[0] != app.BuiltinModelName {
		t.Fatalf("models %+v, options %q", m.models.models, m.models.choice.Options)
	}
	if m.models.selected() != m.models.models[0].ID {
		t.Fatalf("selected model %d, want the built-in %d", m.models.selected(), m.models.models[0].ID)
	}
	m.models.choice.SetSelectedIndex(1)
	if m.models.selected() != other.ID {
		t.Fatalf("choosing the other model selected %d", m.models.selected())
	}
	if again := open(); again.models.selected() != other.ID {
		t.Fatalf("reopened on model %d, want the one chosen last (%d)", again.models.selected(), other.ID)
	}
}

// backendServices reports a fixed BackendInUse.
type backendServices struct {
	*app.Kata
	inUse string
}

func (b *backendServices) BackendInUse() string { return b.inUse }

// TestSettingsShowsBackendInUse: the Compute card shows what
// Services.BackendInUse says, and a fallback's warning in a label of its own
// in the warning colour.
func TestSettingsShowsBackendInUse(t *testing.T) {
	tests := []struct {
		name     string
		inUse    string
		want     string // the "In use" label
		warning  string // the warning label; "" = none
		notShown string
	}{
		{"no model yet", "", "In use: no model loaded yet (one loads for the first training or image).", "", "Warning:"},
		{"pure Go", "go (pure Go, AVX-512 kernels) (auto-detected: no PJRT plugin)",
			"In use: go (pure Go, AVX-512 kernels) (auto-detected: no PJRT plugin)", "", "Warning:"},
		{"XLA", "xla:cuda (PJRT plugin cuda)", "In use: xla:cuda (PJRT plugin cuda)", "", "Warning:"},
		{"fallback", "go (pure Go, AVX2+FMA kernels) (fallback: PJRT plugin cuda failed to start); WARNING: no CUDA device",
			"In use: go (pure Go, AVX2+FMA kernels) (fallback: PJRT plugin cuda failed to start)", "Warning: no CUDA device", "WARNING:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestWindowWith(t, &scriptedPicker{}, &backendServices{Kata: newTestServices(t), inUse: tc.inUse})
			showPage(t, m, "Settings")
			labels := map[string]*widget.Label{}
			for _, o := range test.LaidOutObjects(m.Window().Content()) {
				if l, ok := o.(*widget.Label); ok {
					labels[l.Text] = l
				}
			}
			if labels[tc.want] == nil {
				t.Errorf("no label %q in:\n%s", tc.want, texts(m.Window().Content()))
			}
			if tc.warning != "" {
				if w := labels[tc.warning]; w == nil || w.Importance != widget.WarningImportance {
					t.Errorf("warning label %q: %+v", tc.warning, w)
				}
			}
			if shown := texts(m.Window().Content()); strings.Contains(shown, tc.notShown) {
				t.Errorf("settings show %q:\n%s", tc.notShown, shown)
			}
		})
	}
}

// TestThemeFollowsTheSystem checks that the window sets no theme of its own,
// so Fyne's follows the system's light or dark variant.
func TestThemeFollowsTheSystem(t *testing.T) {
	a := test.NewTempApp(t)
	before := a.Settings().Theme()
	m := NewMainWindow(a, newTestServices(t), &scriptedPicker{})
	defer m.Window().Close()
	m.WaitIdle()
	if a.Settings().Theme() != before {
		t.Errorf("the window replaced the app's theme %T with %T", before, a.Settings().Theme())
	}
}
