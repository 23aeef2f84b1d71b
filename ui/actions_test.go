package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

func TestDropFolderNamesAction(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	root := t.TempDir()
	folder := filepath.Join(root, "salute")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		writePNG(t, folder, string(rune('0'+i))+".png", i)
	}
	if err := os.WriteFile(filepath.Join(folder, "broken.png"), []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.HandleDrop(fyne.NewPos(1, 1), []fyne.URI{storage.NewFileURI(folder)})
	m.WaitIdle()
	a := m.actions.selectedAction()
	if a.Name != "salute" || a.Trigger != "<salute>" || a.Exemplars != 2 {
		t.Fatalf("dropped folder gave action %+v (status %q)", a, m.Status())
	}
	shown := texts(m.Window().Content())
	for _, want := range []string{"2 of at least 4 photos", "Not added: broken.png", "<salute>"} {
		if !strings.Contains(shown, want) {
			t.Errorf("page lacks %q:\n%s", want, shown)
		}
	}

	// Loose files join the selected action.
	loose := writePNG(t, root, "x.png", 7)
	m.HandleDrop(fyne.NewPos(1, 1), []fyne.URI{storage.NewFileURI(loose)})
	m.WaitIdle()
	if a := m.actions.selectedAction(); a.Name != "salute" || a.Exemplars != 3 || len(m.actions.exemplars) != 3 {
		t.Fatalf("loose file: %+v, %d photos shown", a, len(m.actions.exemplars))
	}
	if strings.Contains(texts(m.Window().Content()), "Not added") {
		t.Error("errors of the previous import still shown")
	}
}

func TestSampleCaptionRemove(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	test.Tap(findButton(t, m.Window().Content(), "meditate"))
	m.WaitIdle()
	if a := m.actions.selectedAction(); a.Name != "meditate" || len(m.actions.exemplars) != 10 {
		t.Fatalf("sample gave %+v with %d photos (status %q)", a, len(m.actions.exemplars), m.Status())
	}
	if strings.Contains(texts(m.Window().Content()), "at least 4") {
		t.Error("hint shown for 10 photos")
	}
	first := m.actions.exemplars[0]
	entry := findCaption(t, m.Window().Content(), first.Caption)
	entry.SetText(entry.Text + " at dawn {}")
	entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) // Enter saves
	m.WaitIdle()
	if got := m.actions.exemplars[0].Caption; got != first.Caption+" at dawn <meditate>" {
		t.Fatalf("caption saved as %q", got)
	}
	entry = findCaption(t, m.Window().Content(), m.actions.exemplars[1].Caption)
	entry.SetText(entry.Text + "\nin the rain {}")
	entry.FocusLost() // leaving the caption saves it, on one line
	m.WaitIdle()
	if got, want := m.actions.exemplars[1].Caption, first.Caption; !strings.HasSuffix(got, " in the rain <meditate>") || strings.Contains(got, "\n") {
		t.Fatalf("caption saved on leaving as %q (first was %q)", got, want)
	}
	entry = findCaption(t, m.Window().Content(), m.actions.exemplars[0].Caption)
	entry.SetText("no slot here")
	entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEnter})
	m.WaitIdle()
	if !strings.Contains(m.Status(), "Could not change the caption") {
		t.Fatalf("caption without slot: status %q", m.Status())
	}

	// A re-render (after each change) keeps the photos' scroll place and
	// the split's divider.
	m.actions.scroll.ScrollToOffset(fyne.NewPos(0, 120))
	m.actions.split.SetOffset(0.4)
	m.show(0)
	m.WaitIdle()
	if y := m.actions.scroll.Offset.Y; y != 120 || m.actions.split.Offset != 0.4 {
		t.Errorf("after a re-render: scrolled to %v, divider at %v", y, m.actions.split.Offset)
	}

	// Click a photo, press Delete.
	var thumbs []*thumb
	for _, o := range test.LaidOutObjects(m.Window().Content()) {
		if th, ok := o.(*thumb); ok {
			thumbs = append(thumbs, th)
		}
	}
	if len(thumbs) != 10 {
		t.Fatalf("%d thumbnails shown", len(thumbs))
	}
	test.Tap(thumbs[1])
	m.WaitIdle()
	removed := m.actions.photo
	m.typedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	answerDelete(t, m, "Cancel")
	if len(m.actions.exemplars) != 10 {
		t.Fatalf("after Delete, Cancel: %d photos", len(m.actions.exemplars))
	}
	m.typedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	answerDelete(t, m, "Delete")
	if len(m.actions.exemplars) != 9 || removed == 0 {
		t.Fatalf("after Delete %d photos", len(m.actions.exemplars))
	}
	for _, e := range m.actions.exemplars {
		if e.ID == removed {
			t.Fatal("the selected photo is still there")
		}
	}

	// No photo clicked: Delete removes the action, after asking.
	m.typedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	if m.deleteDialog == nil || !strings.Contains(texts(m.Window().Canvas().Overlays().Top()), "9 photo(s)") {
		t.Fatal("no question naming the action's photos")
	}
	answerDelete(t, m, "Delete")
	if len(m.actions.actions) != 0 || m.actions.selected != 0 {
		t.Fatalf("after deleting the action: %+v (status %q)", m.actions.actions, m.Status())
	}
}

// answerDelete presses button ("Delete" or "Cancel") in the open delete
// question, then waits for what it started.
func answerDelete(t *testing.T, m *MainWindow, button string) {
	t.Helper()
	if m.deleteDialog == nil {
		t.Fatal("Delete asked nothing")
	}
	test.Tap(findButton(t, m.Window().Canvas().Overlays().Top(), button))
	m.WaitIdle()
	if m.deleteDialog != nil {
		t.Fatalf("the question stays open after %s", button)
	}
}

// findCaption finds the caption entry showing text.
func findCaption(t *testing.T, o fyne.CanvasObject, text string) *captionEntry {
	t.Helper()
	for _, c := range test.LaidOutObjects(o) {
		if e, ok := c.(*captionEntry); ok && e.Text == text {
			return e
		}
	}
	t.Fatalf("no caption %q", text)
	return nil
}

func findEntry(t *testing.T, o fyne.CanvasObject, text string) *widget.Entry {
	t.Helper()
	for _, c := range test.LaidOutObjects(o) {
		switch e := c.(type) {
		case *widget.Entry:
			if e.Text == text {
				return e
			}
		case *shortcutEntry:
			if e.Text == text {
				return &e.Entry
			}
		}
	}
	t.Fatalf("no entry with %q", text)
	return nil
}

// TestAddFromDialogs: Add folder… makes an action named after the folder,
// Add photos… adds every file picked at once to it, and a cancelled dialog
// changes nothing.
func TestAddFromDialogs(t *testing.T) {
	root := t.TempDir()
	folder := filepath.Join(root, "wave")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	writePNG(t, folder, "1.png", 1)
	writePNG(t, folder, "2.png", 2)
	a, b := writePNG(t, root, "a.png", 3), writePNG(t, root, "b.png", 4)
	picker := &scriptedPicker{answers: []string{folder, a + string(filepath.ListSeparator) + b, ""}}
	m := newTestWindow(t, picker)

	steps := []struct {
		button string
		want   int
	}{
		{"Add folder…", 2},
		{"Add photos…", 4},
		{"Add photos…", 4}, // cancelled
	}
	for _, s := range steps {
		test.Tap(findButton(t, m.Window().Content(), s.button))
		m.WaitIdle()
		if got := m.actions.selectedAction(); got.Name != "wave" || got.Exemplars != s.want || len(m.actions.exemplars) != s.want {
			t.Fatalf("after %s: action %+v, %d photos shown (status %q)", s.button, got, len(m.actions.exemplars), m.Status())
		}
	}
	want := []string{"Add a folder of photos", "Add photos of the action", "Add photos of the action"}
	if strings.Join(picker.asked, "|") != strings.Join(want, "|") {
		t.Errorf("dialogs asked %q, want %q", picker.asked, want)
	}
}

func TestSlotExcerpt(t *testing.T) {
	cases := []struct{ caption, want string }{
		{"a man <salute>", "a man <salute>"},
		{"a man in a grey coat on a pier at dawn, <salute>, seen from the left", "…at dawn, <salute>, seen from…"},
		{"{} in the rain", "{} in the…"},
		{"a woman doing a {}", "…doing a {}"},
		{"a woman on a beach", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := slotExcerpt(c.caption, "<salute>", 2); got != c.want {
			t.Errorf("slotExcerpt(%q) = %q, want %q", c.caption, got, c.want)
		}
	}
}

// TestCaptionShowsSlot: under a long caption, whose trigger scrolls out of
// the entry, the card still shows the words around the trigger, and while
// a caption has no slot it says what to write.
func TestCaptionShowsSlot(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	test.Tap(findButton(t, m.Window().Content(), "salute"))
	m.WaitIdle()
	long := "a tall man in a long grey winter coat standing on a wooden pier at dawn near the sea <salute> with calm water"
	entry := findCaption(t, m.Window().Content(), m.actions.exemplars[0].Caption)
	entry.SetText(long)
	entry.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	m.WaitIdle()
	if !strings.Contains(texts(m.Window().Content()), "…the sea <salute> with calm…") {
		t.Errorf("no slot line for the long caption:\n%s", texts(m.Window().Content()))
	}
	entry = findCaption(t, m.Window().Content(), long)
	entry.SetText("a man on a pier")
	if !strings.Contains(texts(m.Window().Content()), "say where the action goes: {}") {
		t.Errorf("no hint while the caption lacks its slot:\n%s", texts(m.Window().Content()))
	}
}
