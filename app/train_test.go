package app

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"kata/model/sd/sdtest"
	"kata/store"
)

// writePhotos writes n distinct 96x96 pictures (a figure-like bar on a
// coloured ground) and returns their paths.
func writePhotos(t *testing.T, n int) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := 0; i < n; i++ {
		img := image.NewNRGBA(image.Rect(0, 0, 96, 96))
		for y := 0; y < 96; y++ {
			for x := 0; x < 96; x++ {
				c := color.NRGBA{uint8(40 * i), uint8(x + y), 200, 255}
				if x > 40+i && x < 56+i && y > 10 && y < 86 {
					c = color.NRGBA{250, 220, 180, 255}
				}
				img.SetNRGBA(x, y, c)
			}
		}
		p := filepath.Join(dir, "photo"+string(rune('a'+i))+".png")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		paths = append(paths, p)
	}
	return paths
}

// openWithAction opens a library in a temporary folder holding one action
// with two photos and the sd-tiny fixture model. The caller closes it.
func openWithAction(t *testing.T, name string) (*Kata, ActionInfo, ModelInfo) {
	t.Helper()
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	action, err := k.CreateAction(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.AddPhotos(action.ID, writePhotos(t, 2)); err != nil {
		t.Fatal(err)
	}
	model, err := k.AddModel(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, action, model
}

// TestTrainThenGenerate runs the designer's whole path on the sd-tiny fixture
// model: photos in, model added, identifier trained and stored, an image made
// with the learned trigger and kept in the gallery with its settings.
func TestTrainThenGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the fixture model")
	}
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()

	// A multi-word name: the images' settings list its trigger ("hand-stand:hash", as kata generate does), not the name.
	action, err := k.CreateAction("hand stand")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := k.AddPhotos(action.ID, writePhotos(t, 3))
	if err != nil || rep.Added != 3 {
		t.Fatalf("AddPhotos: %+v, %v", rep, err)
	}
	if _, err := k.Generate(ctx, GenerateRequest{ModelID: 1, Prompt: "x"}, nil); err == nil {
		t.Fatal("Generate without a model succeeded")
	}
	model, err := k.AddModel(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Generate(ctx, GenerateRequest{ModelID: model.ID, Prompt: "a panda " + action.Trigger}, nil); err == nil ||
		!strings.Contains(err.Error(), "not trained yet") {
		t.Fatalf("generating with an untrained action: %v", err)
	}

	var events []TrainProgress
	trained, err := k.Train(ctx, action.ID, model.ID, TrainSettings{Method: "adi", Steps: 3, Seed: 7, PreviewEvery: 2},
		func(p TrainProgress) { events = append(events, p) })
	if err != nil {
		t.Fatal(err)
	}
	// One preview (step 2 of 3) of the robot prompt with the trigger; no
	// preview report carries a loss, no step report lacks one.
	var previews []TrainProgress
	for _, p := range events {
		switch {
		case p.Preview != nil:
			previews = append(previews, p)
			if p.Loss != 0 || p.Smoothed != 0 {
				t.Errorf("a preview report carries a loss: %+v", p)
			}
		case p.Step > 0 && p.Smoothed == 0:
			t.Errorf("a step report without its loss: %+v", p)
		}
	}
	if len(previews) != 1 || previews[0].Step != 2 || previews[0].PreviewPrompt != "a robot "+action.Trigger ||
		previews[0].Preview.Bounds().Empty() {
		t.Fatalf("previews %+v", previews)
	}
	if !strings.Contains(trained.Identifier, "ADI v1, 3 steps") {
		t.Fatalf("identifier summary %q", trained.Identifier)
	}
	if last := events[len(events)-1]; last.Step != 3 || last.Steps != 3 {
		t.Fatalf("last progress %+v", last)
	}
	// Trained from the library rows: no photos staged in the work folder, the
	// contrast images cached in the library's contrast folder.
	work := filepath.Join(k.Library().Dir(), "work")
	if staged, _ := filepath.Glob(filepath.Join(work, "action-*", "exemplars")); len(staged) != 0 {
		t.Errorf("photos staged for training: %v", staged)
	}
	if cached, _ := filepath.Glob(filepath.Join(work, "contrast", "*.png")); len(cached) != 6 {
		t.Errorf("%d cached contrast images, want 3 photos x 2", len(cached))
	}
	jobs, err := k.Library().Jobs(ctx, store.JobDone)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("done jobs %v, %v", jobs, err)
	}

	steps := 0
	g, err := k.Generate(ctx, GenerateRequest{ModelID: model.ID, Prompt: "a panda " + action.Trigger, Steps: 2, Seed: 5},
		func(step, total int) { steps = step })
	if err != nil {
		t.Fatal(err)
	}
	if steps != 2 {
		t.Fatalf("progress reached step %d of 2", steps)
	}
	gens, err := k.Generations()
	if err != nil || len(gens) != 1 || gens[0].ID != g.ID {
		t.Fatalf("gallery %v, %v", gens, err)
	}
	row, err := k.Library().Generation(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.ModelHash != model.Hash || len(row.IdentifierVersions) != 1 || row.Seed != 5 {
		t.Fatalf("stored generation %+v", row)
	}
	// The window's path writes the sampler as AUTOMATIC1111 names it, as kata generate does.
	if s, err := store.ReadSettings(g.ImagePath); err != nil || row.Sampler != "Euler a" || s.Sampler != "Euler a" || s.Steps != 2 {
		t.Errorf("stored sampler %q, PNG settings %+v (%v)", row.Sampler, s, err)
	}
	// ... and names the identifier as kata generate does.
	if v, err := k.Library().IdentifierVersion(ctx, row.IdentifierVersions[0]); err == nil {
		want, err := identifierLabel(action.Trigger, k.Library().BlobPath(v.File))
		if s, rerr := store.ReadSettings(g.ImagePath); err != nil || rerr != nil || len(s.Identifiers) != 1 || s.Identifiers[0] != want ||
			!strings.HasPrefix(want, "hand-stand:") {
			t.Errorf("PNG identifiers %v, want [%s] (%v %v)", s.Identifiers, want, err, rerr)
		}
	} else {
		t.Error(err)
	}
	if _, err := os.Stat(g.ImagePath); err != nil {
		t.Fatal(err)
	}

	// Every subject doing every trained action, then the contact sheet.
	sheet := filepath.Join(t.TempDir(), "sheet.png")
	if err := k.ExportContactSheet(sheet); err == nil {
		t.Fatal("a contact sheet without subjects was written")
	}
	done := 0
	mixed, err := k.Mix(ctx, MixRequest{ModelID: model.ID, Subjects: []string{"a panda", " a robot ", ""}, Seed: 9, Steps: 2},
		func(d, total int, _ string) { done = d })
	if err != nil {
		t.Fatal(err)
	}
	if len(mixed) != 2 || done != 2 || mixed[0].Prompt != "a panda "+action.Trigger || mixed[1].Prompt != "a robot "+action.Trigger {
		t.Fatalf("mix made %+v (progress %d)", mixed, done)
	}
	if err := k.ExportContactSheet(sheet); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(sheet)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// Two subject rows and one action column of 192-pixel cells, plus labels.
	if b := img.Bounds(); b.Dy() < 2*192 || b.Dx() < 192 || b.Dx() >= 2*192+400 {
		t.Fatalf("contact sheet is %v", b)
	}
}

func TestTrainCancelThenResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the fixture model")
	}
	k, action, model := openWithAction(t, "salute")
	defer k.Close()
	ctx, cancel := context.WithCancel(context.Background())
	settings := TrainSettings{Method: "p+", Steps: 4, Seed: 1}
	_, err := k.Train(ctx, action.ID, model.ID, settings, func(p TrainProgress) {
		if p.Step == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	paused, err := k.Library().Jobs(context.Background(), store.JobPaused)
	if err != nil || len(paused) != 1 {
		t.Fatalf("paused jobs %v, %v", paused, err)
	}
	actions, err := k.Actions()
	if err != nil {
		t.Fatal(err)
	}
	if p := actions[0].Paused; p == nil || !reflect.DeepEqual(p.Settings, settings) || p.Progress != 0.5 {
		t.Fatalf("paused run %+v, want settings %+v at 0.5", p, settings)
	}
	first := 0
	info, err := k.Train(context.Background(), action.ID, model.ID, settings, func(p TrainProgress) {
		if p.Step > 0 && first == 0 {
			first = p.Step
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if first < 3 {
		t.Fatalf("the second run started at step %d: it did not resume from the checkpoint", first)
	}
	if info.Identifier == "" || info.Paused != nil {
		t.Fatalf("after the resumed run: %+v", info)
	}
	all, err := k.Library().Jobs(context.Background())
	if err != nil || len(all) != 1 || all[0].State != store.JobDone {
		t.Fatalf("the resumed run should continue its job row: %+v, %v", all, err)
	}
}

// Closing Kata while a run trains stops the run at its next step (saving a
// checkpoint) rather than waiting for it to finish.
func TestCloseStopsTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the fixture model")
	}
	k, action, model := openWithAction(t, "pray")
	started := make(chan struct{})
	result := make(chan error, 1)
	go func() {
		var once bool
		_, err := k.Train(context.Background(), action.ID, model.ID, TrainSettings{Method: "ti", Steps: 100000},
			func(p TrainProgress) {
				if p.Step == 1 && !once {
					once = true
					close(started)
				}
			})
		result <- err
	}()
	<-started
	if err := k.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("training after Close returned %v", err)
	}
}

func TestTrainSettingsValidate(t *testing.T) {
	for _, tc := range []struct {
		s    TrainSettings
		want string // "" for valid
	}{
		{TrainSettings{}, ""},
		{TrainSettings{Method: "p+", Steps: 300, LR: 1e-3, Beta: 0.7}, ""},
		{TrainSettings{Method: "dreambooth"}, "method"},
		{TrainSettings{LR: -1}, "learning rate"},
		{TrainSettings{Beta: 1.5}, "beta"},
		{TrainSettings{Steps: -3}, "steps"},
		{TrainSettings{PreviewEvery: -1}, ""},
		{TrainSettings{PreviewEvery: -2}, "preview every"},
	} {
		err := tc.s.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.s, err, tc.want)
		}
	}
	a := TrainSettings{Steps: 10}.checkpointKey("adi")
	b := TrainSettings{Steps: 10, LR: 1e-3}.checkpointKey("adi")
	c := TrainSettings{Steps: 10, ContrastPhotos: []string{"/x"}}.checkpointKey("adi")
	if a != "adi-10-0" || a == b || b == c {
		t.Fatalf("checkpoint keys %q %q %q", a, b, c)
	}
	if d := (TrainSettings{Steps: 10, PreviewEvery: 4}).checkpointKey("adi"); d != a {
		t.Fatalf("previews changed the checkpoint key: %q, want %q", d, a)
	}
	for _, tc := range []struct {
		s    TrainSettings
		want int
	}{
		{TrainSettings{Steps: 500}, 100},
		{TrainSettings{Steps: 3}, 1},
		{TrainSettings{Steps: 500, PreviewEvery: 7}, 7},
		{TrainSettings{Steps: 500, PreviewEvery: -1}, 0},
	} {
		if got := tc.s.previewEvery(); got != tc.want {
			t.Errorf("%+v: previews every %d steps, want %d", tc.s, got, tc.want)
		}
	}
}
