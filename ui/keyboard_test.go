package ui

import (
	"context"
	"image"
	"os"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"kata/app"
	"kata/model/sd/sdtest"
	"kata/store"
)

// ctrl is Ctrl+key as the desktop driver reports it.
func ctrl(key fyne.KeyName) *desktop.CustomShortcut {
	return &desktop.CustomShortcut{KeyName: key, Modifier: fyne.KeyModifierShortcutDefault}
}

// typeShortcut gives s to the focused widget, as Fyne's desktop driver does
// (a focused Shortcutable gets every shortcut; the canvas only gets them
// when nothing is focused).
func typeShortcut(t *testing.T, m *MainWindow, s fyne.Shortcut) {
	t.Helper()
	focused, ok := m.Window().Canvas().Focused().(fyne.Shortcutable)
	if !ok {
		t.Fatalf("the focused %T takes no shortcuts", m.Window().Canvas().Focused())
	}
	focused.TypedShortcut(s)
	m.WaitIdle()
}

// TestShortcutsInTextFields checks that Ctrl+Enter generates and Ctrl+E
// exports while the designer types in a text field, and that the field
// keeps its own shortcuts (select all).
func TestShortcutsInTextFields(t *testing.T) {
	t.Setenv(app.EnvBuiltinModel, sdtest.TinyDir())
	picker := &scriptedPicker{}
	svc := &fakeGenerate{Kata: newTestServices(t)}
	m := newTestWindowWith(t, picker, svc)
	showPage(t, m, "Gallery")
	g := m.gallery
	g.prompt.SetText("a panda")
	g.seed.SetText("5")
	for _, field := range []*shortcutEntry{g.prompt, g.negative, g.seed, g.advanced.steps} {
		m.Window().Canvas().Focus(field)
		typeShortcut(t, m, ctrl(fyne.KeyReturn))
	}
	if want := []string{"a panda", "a panda", "a panda", "a panda"}; !slices.Equal(svc.prompts, want) {
		t.Fatalf("Ctrl+Enter in four fields generated %q, want %q (status %q)", svc.prompts, want, m.Status())
	}

	m.Window().Canvas().Focus(g.prompt)
	typeShortcut(t, m, &fyne.ShortcutSelectAll{})
	if got := g.prompt.SelectedText(); got != "a panda" {
		t.Errorf("select all in the prompt selected %q", got)
	}

	typeShortcut(t, m, ctrl(fyne.KeyE))
	if !slices.Contains(picker.asked, "Export images to a folder") {
		t.Errorf("Ctrl+E in the prompt asked %q", picker.asked)
	}
	typeShortcut(t, m, ctrl(fyne.Key1))
	if m.CurrentPage() != "Actions" {
		t.Errorf("Ctrl+1 in the prompt shows %s", m.CurrentPage())
	}
}

// TestDeleteTickedImages checks the Gallery's Delete key: a hint with
// nothing ticked; with images ticked a question, and Cancel keeps them.
func TestDeleteTickedImages(t *testing.T) {
	svc := newTestServices(t)
	var gens []store.Generation
	for seed := range 3 {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		img.Pix[0] = uint8(seed) // distinct files
		gen, err := svc.Library().AddGeneration(context.Background(), store.Generation{Prompt: "a panda", Seed: int64(seed)}, img)
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, gen)
	}
	m := newTestWindowWith(t, &scriptedPicker{}, svc)
	showPage(t, m, "Gallery")
	if len(m.gallery.items) != 3 {
		t.Fatalf("gallery shows %d images", len(m.gallery.items))
	}
	m.typedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	if m.deleteDialog != nil || !strings.Contains(m.Status(), "Tick the images") {
		t.Fatalf("Delete with nothing ticked: dialog %v, status %q", m.deleteDialog != nil, m.Status())
	}
	m.gallery.selected[gens[0].ID], m.gallery.selected[gens[2].ID] = true, true
	m.typedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	answerDelete(t, m, "Cancel")
	if len(m.gallery.items) != 3 {
		t.Fatalf("Cancel deleted: %d images left", len(m.gallery.items))
	}
	m.typedKey(&fyne.KeyEvent{Name: fyne.KeyDelete})
	answerDelete(t, m, "Delete")
	if len(m.gallery.items) != 1 || m.gallery.items[0].ID != gens[1].ID || !strings.Contains(m.Status(), "Deleted 2 image(s)") {
		t.Fatalf("after Delete: %+v, status %q", m.gallery.items, m.Status())
	}
	if _, err := os.Stat(m.gallery.items[0].ImagePath); err != nil {
		t.Errorf("the kept image's file: %v", err)
	}
}
