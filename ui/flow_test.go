package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
	"kata/model/sd/sdtest"
	"kata/store"
)

// TestTrainAndGenerateFlow clicks through what a designer does on first use:
// add a model, drop photos, train, then generate with the learned trigger.
func TestTrainAndGenerateFlow(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the fixture model")
	}
	t.Setenv(app.EnvBuiltinModel, "none") // a build without a model
	picker := &scriptedPicker{answers: []string{sdtest.TinyDir()}}
	svc := &cancellingServices{Kata: newTestServices(t)}
	m := newTestWindowWith(t, picker, svc)

	dir := t.TempDir()
	var uris []fyne.URI
	for i := 1; i <= 3; i++ {
		uris = append(uris, storage.NewFileURI(writePNG(t, dir, string(rune('a'+i))+".png", i)))
	}
	m.HandleDrop(fyne.NewPos(5, 5), uris)
	m.WaitIdle()

	m.actions.rename("Hand stand")
	m.WaitIdle()
	if got := m.actions.selectedAction().Trigger; got != "<hand-stand>" {
		t.Fatalf("trigger after rename %q (status %q)", got, m.Status())
	}

	test.Tap(findButton(t, m.Window().Content(), "Train"))
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "Add a model first") {
		t.Fatalf("training without a model: status %q", got)
	}

	test.Tap(findButton(t, m.Window().Content(), "Add model folder…"))
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "Model sd-tiny ready") {
		t.Fatalf("status after adding the model: %q", got)
	}
	if m.models.selected() == 0 {
		t.Fatal("the added model is not selected")
	}

	// Cancel a run at its second step, as the designer would with the
	// Cancel button: the panel offers to resume it, also after the page is
	// shown again.
	svc.cancelAt = 2
	svc.cancel = func() { onUIAsync(func() { test.Tap(m.actions.train.cancel) }) }
	m.actions.train.steps.SetText("40")
	m.actions.train.method.SetSelectedIndex(1) // P+
	test.Tap(m.actions.train.train)
	m.WaitIdle()
	if got := m.actions.train.info.Text; !strings.Contains(got, "Paused") {
		t.Fatalf("after cancel: %q", got)
	}
	m.actions.train.method.SetSelectedIndex(0)
	m.show(0)
	m.WaitIdle()
	if got := m.actions.train.info.Text; !strings.Contains(got, "A 40-step run stopped at") || m.actions.train.method.Selected != methods[1].label {
		t.Fatalf("paused run not offered: %q, method %q", got, m.actions.train.method.Selected)
	}
	svc.cancelAt = 0
	a := m.actions.selectedAction()
	done := fmt.Sprintf("Done: %s learned (P+ v1, 40 steps). Use %s in the Gallery.", a.Name, a.Trigger)
	// The run's end sends a system notification.
	test.AssertNotificationSent(t, &fyne.Notification{Title: "Kata: " + a.Name + " learned", Content: done}, func() {
		test.Tap(m.actions.train.train)
		m.WaitIdle()
	})
	if got := m.actions.train.info.Text; got != done {
		t.Fatalf("training ended with %q (status %q)", got, m.Status())
	}
	if m.actions.train.progress.Value != 1 {
		t.Fatalf("progress bar at %v", m.actions.train.progress.Value)
	}
	trigger := m.actions.actions[0].Trigger
	// The run drew "a robot <trigger>" with its identifier on the fixture model.
	if tp := m.actions.train; tp.preview.Image == nil || tp.previewInfo.Text != "Step 40: a robot "+trigger {
		t.Fatalf("training preview %v, caption %q", tp.preview.Image, tp.previewInfo.Text)
	}
	idDir := t.TempDir()
	picker.answers = []string{idDir}
	test.Tap(findButton(t, m.Window().Content(), "Export identifier…"))
	m.WaitIdle()
	if got, _ := filepath.Glob(filepath.Join(idDir, "*.safetensors")); len(got) != 1 || !strings.Contains(m.Status(), "Identifier saved") {
		t.Fatalf("identifier export wrote %v, status %q", got, m.Status())
	}
	m.actions.rename("handstand")
	m.WaitIdle()
	if got := m.actions.selectedAction(); got.Name != "handstand" || got.Trigger != trigger {
		t.Fatalf("after training a rename must keep the trigger: %+v", got)
	}

	m.sidebar.Select(1)
	m.WaitIdle()
	m.gallery.prompt.SetText("a panda " + trigger)
	m.gallery.seed.SetText("42")
	test.Tap(m.gallery.generate)
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "Done: 1 image(s)") {
		t.Fatalf("generation ended with status %q (queue %q)", got, m.gallery.queue.label.Text)
	}
	if len(m.gallery.items) != 1 || m.gallery.items[0].Seed != 42 {
		t.Fatalf("gallery shows %+v", m.gallery.items)
	}
	if !strings.Contains(texts(m.Window().Content()), "seed 42") {
		t.Error("the seed is not shown under the image")
	}

	m.gallery.prompt.SetText("")
	m.gallery.reuse(m.gallery.items[0])
	m.WaitIdle()
	if m.gallery.prompt.Text != "a panda "+trigger || m.gallery.seed.Text != "42" {
		t.Fatalf("reuse gave prompt %q seed %q", m.gallery.prompt.Text, m.gallery.seed.Text)
	}

	out := t.TempDir()
	picker.answers = []string{out}
	test.Tap(findButton(t, m.Window().Content(), "Export…"))
	m.WaitIdle()
	files, _ := filepath.Glob(filepath.Join(out, "*.png"))
	if len(files) != 1 || !strings.Contains(m.Status(), "Exported 1 image") {
		t.Fatalf("export wrote %v, status %q", files, m.Status())
	}
	s, err := store.ReadSettings(files[0])
	if err != nil || s.Seed != 42 || s.Prompt != "a panda "+trigger {
		t.Fatalf("exported settings %+v, %v", s, err)
	}
	out = t.TempDir()
	picker.answers = []string{out}
	m.gallery.format.SetSelected("JPEG")
	test.Tap(findButton(t, m.Window().Content(), "Export…"))
	m.WaitIdle()
	files, _ = filepath.Glob(filepath.Join(out, "*.jpg"))
	if len(files) != 1 || m.app.Preferences().String(prefExportFormat) != "jpeg" {
		t.Fatalf("JPEG export wrote %v, status %q", files, m.Status())
	}
	if s, err := store.ReadSettings(files[0]); err != nil || s.Seed != 42 {
		t.Fatalf("JPEG settings %+v, %v", s, err)
	}
	// The star marks the favourite (what the zip takes when none is ticked).
	stars := findIconButtons(m.Window().Content(), "star.svg")
	if len(stars) != 1 || len(findIconButtons(m.Window().Content(), "star-filled.svg")) != 0 {
		t.Fatalf("%d stars before marking a favourite", len(stars))
	}
	test.Tap(stars[0])
	m.WaitIdle()
	if !m.gallery.items[0].Favourite || len(findIconButtons(m.Window().Content(), "star-filled.svg")) != 1 {
		t.Fatalf("after tapping the star: %+v", m.gallery.items[0])
	}
	zip := filepath.Join(t.TempDir(), "images.zip")
	picker.answers = []string{zip}
	test.Tap(findButton(t, m.Window().Content(), "Zip…"))
	m.WaitIdle()
	if st, err := os.Stat(zip); err != nil || st.Size() == 0 || !strings.Contains(m.Status(), "Zip saved") {
		t.Fatalf("zip: %v, status %q", err, m.Status())
	}

	// The matrix: two subjects, one trained action, two variations each;
	// images arrive cell by cell.
	m.gallery.subjects.SetText("a panda, a robot")
	m.gallery.addSubjects()
	m.WaitIdle()
	if len(m.gallery.matrix.Subjects) != 2 || len(m.gallery.matrix.Actions) != 1 {
		t.Fatalf("matrix %+v", m.gallery.matrix)
	}
	m.gallery.variations.SetText("2")
	m.gallery.seed.SetText("")
	test.Tap(m.gallery.mix)
	m.WaitIdle()
	cells := m.gallery.matrix.Cells
	if got := m.Status(); !strings.Contains(got, "Done: 4 image(s)") || len(m.gallery.items) != 5 || len(cells) != 2 {
		t.Fatalf("generate all: status %q, gallery %d images, %d cells", got, len(m.gallery.items), len(cells))
	}
	for c, gens := range cells {
		if len(gens) != 2 || gens[0].Seed == gens[1].Seed {
			t.Fatalf("cell %+v: %+v", c, gens)
		}
	}
	// A row, a column and a cell, one variation each: the row and the
	// column add an image to each of their cells (one action: the row is
	// one cell; the column is both subjects), the cell's button one.
	m.gallery.variations.SetText("1")
	for _, tc := range []struct {
		button string
		added  int
	}{{"Generate row", 1}, {"Generate column", 2}} {
		before := len(m.gallery.items)
		test.Tap(findButton(t, m.Window().Content(), tc.button))
		m.WaitIdle()
		if got := len(m.gallery.items) - before; got != tc.added {
			t.Fatalf("%s added %d image(s), want %d (status %q)", tc.button, got, tc.added, m.Status())
		}
	}
	counts := func() map[app.Cell]int {
		c := map[app.Cell]int{}
		for k, v := range m.gallery.matrix.Cells {
			c[k] = len(v)
		}
		return c
	}
	var plays []*widget.Button // one per cell
	for _, b := range findIconButtons(m.Window().Content(), theme.MediaPlayIcon().Name()) {
		if b != m.gallery.generate {
			plays = append(plays, b)
		}
	}
	if len(plays) != 2 {
		t.Fatalf("%d cell buttons, want 2", len(plays))
	}
	for _, play := range plays {
		before := counts()
		test.Tap(play)
		m.WaitIdle()
		after, grown := counts(), 0
		for k, n := range after {
			switch n - before[k] {
			case 0:
			case 1:
				grown++
			default:
				t.Fatalf("a cell's button: %v images before, %v after", before, after)
			}
		}
		if grown != 1 {
			t.Fatalf("a cell's button grew %d cells: %v before, %v after", grown, before, after)
		}
	}
	robot := m.gallery.matrix.Subjects[1].ID
	cell := app.Cell{SubjectID: robot, ActionID: m.gallery.matrix.Actions[0].ID}
	before := len(m.gallery.matrix.Cells[cell])

	// Click an image: the large view with its settings; Regenerate with a
	// new seed makes it again in the same cell with another seed.
	g := m.gallery.matrix.Cells[cell][0]
	m.gallery.open(g)
	m.WaitIdle()
	over := m.Window().Canvas().Overlays().Top()
	if over == nil || !strings.Contains(texts(over), fmt.Sprintf("Seed: %d", g.Seed)) {
		t.Fatalf("large view shows %q", texts(over))
	}
	test.Tap(findButton(t, over, "Regenerate with a new seed"))
	m.WaitIdle()
	again := m.gallery.matrix.Cells[cell]
	if len(again) != before+1 || m.Window().Canvas().Overlays().Top() != nil {
		t.Fatalf("after regenerate the cell has %d images (want %d); overlay %v", len(again), before+1, m.Window().Canvas().Overlays().Top())
	}
	seeds := map[uint64]int{}
	for _, x := range again {
		seeds[x.Seed]++
		if x.Prompt != g.Prompt {
			t.Errorf("regenerated prompt %q, want %q", x.Prompt, g.Prompt)
		}
	}
	if len(seeds) != len(again) {
		t.Errorf("seeds in the cell repeat: %v", seeds)
	}

	sheet := filepath.Join(t.TempDir(), "sheet.png")
	picker.answers = []string{sheet}
	test.Tap(findButton(t, m.Window().Content(), "Contact sheet…"))
	m.WaitIdle()
	if _, err := os.Stat(sheet); err != nil || !strings.Contains(m.Status(), "Contact sheet saved") {
		t.Fatalf("contact sheet: %v, status %q", err, m.Status())
	}
}

// cancellingServices presses Cancel when a training run reports step cancelAt.
type cancellingServices struct {
	*app.Kata
	cancelAt int
	cancel   func()
}

func (c *cancellingServices) Train(ctx context.Context, actionID, modelID int64, s app.TrainSettings,
	progress func(app.TrainProgress)) (app.ActionInfo, error) {
	return c.Kata.Train(ctx, actionID, modelID, s, func(p app.TrainProgress) {
		progress(p)
		if c.cancelAt > 0 && p.Step == c.cancelAt {
			c.cancel()
		}
	})
}
