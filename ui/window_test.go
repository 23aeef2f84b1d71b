package ui

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// scriptedPicker answers file dialogs from a queue, as a user would.
type scriptedPicker struct {
	mu      sync.Mutex
	answers []string
	err     error
	asked   []string
}

func (p *scriptedPicker) next(title string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked = append(p.asked, title)
	if p.err != nil {
		return "", p.err
	}
	if len(p.answers) == 0 {
		return "", nil
	}
	a := p.answers[0]
	p.answers = p.answers[1:]
	return a, nil
}

func (p *scriptedPicker) PickFile(title, _ string, _ ...string) (string, error) { return p.next(title) }

// PickFiles takes one answer and splits it at the list separator (":").
func (p *scriptedPicker) PickFiles(title, _ string, _ ...string) ([]string, error) {
	a, err := p.next(title)
	if a == "" {
		return nil, err
	}
	return filepath.SplitList(a), err
}
func (p *scriptedPicker) PickFolder(title string) (string, error)  { return p.next(title) }
func (p *scriptedPicker) SaveFile(title, _ string) (string, error) { return p.next(title) }

// texts collects every label and button text laid out under o.
func texts(o fyne.CanvasObject) string {
	var b strings.Builder
	for _, c := range test.LaidOutObjects(o) {
		switch w := c.(type) {
		case *widget.Label:
			b.WriteString(w.Text + "\n")
		case *widget.Button:
			b.WriteString(w.Text + "\n")
		}
	}
	return b.String()
}

func newTestWindow(t *testing.T, picker Picker) *MainWindow {
	t.Helper()
	return newTestWindowWith(t, picker, newTestServices(t))
}

func newTestWindowWith(t *testing.T, picker Picker, svc Services) *MainWindow {
	t.Helper()
	a := test.NewTempApp(t)
	m := NewMainWindow(a, svc, picker)
	t.Cleanup(m.Window().Close)
	m.WaitIdle()
	return m
}

func TestEmptyStateSaysWhatToDo(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	if got := m.CurrentPage(); got != "Actions" {
		t.Fatalf("first page %q, want Actions", got)
	}
	shown := texts(m.Window().Content())
	for _, want := range []string{"Actions", "Gallery", "Teach Kata an action", "Drag a folder of photos", "Try it:", "salute", "Train", "Add photos…", "Add folder…"} {
		if !strings.Contains(shown, want) {
			t.Errorf("window lacks %q; it shows:\n%s", want, shown)
		}
	}
	m.sidebar.Select(1)
	m.WaitIdle()
	if got := m.CurrentPage(); got != "Gallery" {
		t.Fatalf("page %q after selecting Gallery", got)
	}
	if shown := texts(m.Window().Content()); !strings.Contains(shown, "Nothing generated yet") {
		t.Errorf("gallery empty state missing:\n%s", shown)
	}
}

func writePNG(t *testing.T, dir, name string, seed int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, testPNG(t, seed), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDropCreatesActionWithPhotos(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	dir := t.TempDir()
	a := writePNG(t, dir, "a.png", 1)
	b := writePNG(t, dir, "b.png", 2)
	bad := filepath.Join(dir, "notes.png")
	if err := os.WriteFile(bad, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.HandleDrop(fyne.NewPos(10, 10), []fyne.URI{storage.NewFileURI(a), storage.NewFileURI(b), storage.NewFileURI(bad)})
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "Added 2 photo(s)") || !strings.Contains(got, "1 skipped") {
		t.Fatalf("status %q", got)
	}
	shown := texts(m.Window().Content())
	if !strings.Contains(shown, app.DefaultActionName) || !strings.Contains(shown, "2 photos") {
		t.Fatalf("action list does not show the new action with 2 photos:\n%s", shown)
	}
	// Dropping the same file again adds nothing.
	m.HandleDrop(fyne.NewPos(10, 10), []fyne.URI{storage.NewFileURI(a)})
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "Added 0 photo(s)") || !strings.Contains(got, "1 already there") {
		t.Fatalf("status after duplicate drop %q", got)
	}
}

func TestAddPhotoThroughDialog(t *testing.T) {
	dir := t.TempDir()
	picker := &scriptedPicker{answers: []string{writePNG(t, dir, "x.png", 3)}}
	m := newTestWindow(t, picker)
	test.Tap(findButton(t, m.Window().Content(), "Add photos…"))
	m.WaitIdle()
	if len(picker.asked) != 1 {
		t.Fatalf("dialog asked %d times", len(picker.asked))
	}
	if got := m.Status(); !strings.Contains(got, "Added 1 photo(s)") {
		t.Fatalf("status %q", got)
	}
}

func TestDialogCancelAndFailure(t *testing.T) {
	picker := &scriptedPicker{}
	m := newTestWindow(t, picker)
	test.Tap(findButton(t, m.Window().Content(), "Add folder…"))
	m.WaitIdle()
	if got := m.Status(); got != "" {
		t.Fatalf("a cancelled dialog changed the status to %q", got)
	}
	picker.err = errors.New("no display")
	test.Tap(findButton(t, m.Window().Content(), "Add folder…"))
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "no display") {
		t.Fatalf("status %q does not report the dialog error", got)
	}
}

func findButton(t *testing.T, o fyne.CanvasObject, text string) *widget.Button {
	t.Helper()
	for _, c := range test.LaidOutObjects(o) {
		if b, ok := c.(*widget.Button); ok && b.Text == text {
			return b
		}
	}
	t.Fatalf("no button %q", text)
	return nil
}

// findIconButtons returns the buttons whose icon's name ends in icon.
func findIconButtons(o fyne.CanvasObject, icon string) []*widget.Button {
	var out []*widget.Button
	for _, c := range test.LaidOutObjects(o) {
		if b, ok := c.(*widget.Button); ok && b.Icon != nil && strings.HasSuffix(b.Icon.Name(), icon) {
			out = append(out, b)
		}
	}
	return out
}

func TestAddModelRejectsNonModel(t *testing.T) {
	t.Setenv(app.EnvBuiltinModel, "none") // a build without a model
	notAModel := t.TempDir()
	if err := os.WriteFile(filepath.Join(notAModel, "readme.txt"), []byte("photos"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := newTestWindow(t, &scriptedPicker{answers: []string{notAModel}})
	test.Tap(findButton(t, m.Window().Content(), "Add model folder…"))
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "Could not add the model") {
		t.Fatalf("status %q", got)
	}
	if m.models.selected() != 0 {
		t.Fatal("a folder that is not a model was selected")
	}
}

// TestWindowRemembersSize opens at a size that fits a 1280x800 screen, and
// a window opened after one that was resized and closed takes its size;
// sizes too small to use fall back to the default.
func TestWindowRemembersSize(t *testing.T) {
	a := test.NewTempApp(t)
	svc := newTestServices(t)
	open := func() *MainWindow {
		m := NewMainWindow(a, svc, &scriptedPicker{})
		m.WaitIdle()
		return m
	}
	m := open()
	if s := m.Window().Canvas().Size(); s.Width > 1280 || s.Height > 800 || s != defaultSize {
		t.Fatalf("first window %v, want %v", s, defaultSize)
	}
	for _, tc := range []struct {
		resize, want fyne.Size
	}{
		{fyne.NewSize(1000, 700), fyne.NewSize(1000, 700)},
		{fyne.NewSize(300, 200), fyne.NewSize(1000, 700)}, // too small: not remembered
	} {
		m.Window().Resize(tc.resize)
		m.saveSize() // what closing the window (its close intercept) and Quit do
		m.Window().Close()
		m = open()
		if got := m.Window().Canvas().Size(); got != tc.want {
			t.Errorf("after closing at %v: opened at %v, want %v", tc.resize, got, tc.want)
		}
	}
	m.Window().Close()
}
