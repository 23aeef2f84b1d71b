package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kata/app"
)

// TestScreenshots makes the README's screenshots (`make screenshots`): a
// library where the built-in model ($KATA_BUILTIN_MODEL, or the model this
// build ships) learned the salute sample and drew a small subjects x actions
// matrix, then every page of the real binary under Xvfb, written into
// $KATA_SCREENSHOT_DIR. It runs only when KATA_SCREENSHOTS=1 (it trains and
// generates: minutes to hours on a CPU); KATA_SCREENSHOT_STEPS sets the
// training steps (default app.DefaultTrainSteps).
func TestScreenshots(t *testing.T) {
	if os.Getenv("KATA_SCREENSHOTS") != "1" {
		t.Skip("`make screenshots` runs this (KATA_SCREENSHOTS=1)")
	}
	dir := os.Getenv("KATA_SCREENSHOT_DIR")
	model := app.BuiltinModelPath()
	if dir == "" || model == "" {
		t.Fatalf("screenshots need KATA_SCREENSHOT_DIR (%q) and a built-in model (%s=%q)", dir, app.EnvBuiltinModel, model)
	}
	model, err := filepath.Abs(model)
	if err != nil {
		t.Fatal(err)
	}
	steps := app.DefaultTrainSteps
	if s := os.Getenv("KATA_SCREENSHOT_STEPS"); s != "" {
		if steps, err = strconv.Atoi(s); err != nil || steps < 1 {
			t.Fatalf("KATA_SCREENSHOT_STEPS=%q: a whole number of steps", s)
		}
	}
	t.Setenv(app.EnvBuiltinModel, model)
	home := t.TempDir()
	lib := filepath.Join(home, "library")
	screenshotLibrary(t, lib, steps)

	d := needDisplay(t)
	bin := buildKata(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DISPLAY="+d.name, "HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"KATA_LIBRARY="+lib, "NO_AT_BRIDGE=1", "GSETTINGS_BACKEND=memory")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("kata output:\n%s", logs.String())
		}
	})
	win := d.findWindow(t, "Kata", 60*time.Second)
	time.Sleep(2 * time.Second)
	for i, name := range []string{"actions.png", "gallery.png", "settings.png"} {
		if _, err := d.x(t, "xdotool", "windowfocus", "--sync", win); err != nil {
			t.Fatal(err)
		}
		if _, err := d.x(t, "xdotool", "key", "ctrl+"+strconv.Itoa(i+1)); err != nil {
			t.Fatal(err)
		}
		shot := d.settled(t, name)
		if n := distinctColours(shot, shot.Bounds(), 64); n < 16 {
			t.Errorf("%s looks blank: %d distinct colours", name, n)
		}
	}
}

// screenshotLibrary fills a new library at dir as a designer's first session
// would: the built-in model, the salute sample trained for steps steps, three
// subjects and two variations of each matrix cell, one a favourite.
func screenshotLibrary(t *testing.T, dir string, steps int) {
	t.Helper()
	k, err := app.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	model, ok, err := k.AddBuiltinModel(nil)
	if err != nil || !ok {
		t.Fatalf("built-in model: ok %v, %v", ok, err)
	}
	if _, err := k.AddSample("salute"); err != nil {
		t.Fatal(err)
	}
	actions, err := k.Actions()
	if err != nil || len(actions) != 1 {
		t.Fatalf("actions %+v, %v", actions, err)
	}
	ctx := context.Background()
	start := time.Now()
	if _, err := k.Train(ctx, actions[0].ID, model.ID, app.TrainSettings{Steps: steps, PreviewEvery: -1}, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("trained %s for %d steps in %v", actions[0].Trigger, steps, time.Since(start).Round(time.Second))
	subjects := []string{"a panda", "a robot", "our mascot"}
	var made []app.GenerationInfo
	for _, seed := range []uint64{7, 8} {
		gens, err := k.Mix(ctx, app.MixRequest{ModelID: model.ID, Subjects: subjects, Seed: seed}, nil)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, gens...)
	}
	if err := k.SetFavourite(made[0].ID, true); err != nil {
		t.Fatal(err)
	}
}
