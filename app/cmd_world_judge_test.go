package app

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/backend"
	"kata/model/world"
	"kata/model/world/judge"
)

func TestWorldJudgeCommand(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	dir := t.TempDir()
	s := world.Scene{Kind: "robot", Color: "blue", Action: "salute", Background: "plain", BackColor: "white", Seed: 3}
	img := world.Render(s, 128) // judged after resizing to 64x64
	path := filepath.Join(dir, "robot.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()

	code, stdout, stderr := runMain("world", "judge", path)
	if code != 0 {
		t.Fatalf("judge: exit %d\n%s", code, stderr)
	}
	// One line per image: path, then kind, colour, action with confidences.
	fields := strings.Fields(strings.NewReplacer(",", " ", ":", " ").Replace(stdout))
	if len(fields) != 10 || fields[0] != path || fields[1] != "kind" || fields[4] != "colour" || fields[7] != "action" {
		t.Fatalf("output %q", stdout)
	}
	if fields[2] != s.Kind || fields[5] != s.Color || fields[8] != s.Action {
		t.Errorf("judged %q, want %s %s %s", stdout, s.Kind, s.Color, s.Action)
	}

	code, stdout, stderr = runMain("world", "judge", "--eval", "16")
	if code != 0 || !strings.Contains(stdout, "| pose (action) |") || !strings.Contains(stdout, "Confusion, colour") {
		t.Fatalf("judge --eval: exit %d\n%s\n%s", code, stdout, stderr)
	}

	for _, bad := range [][]string{
		{"world", "judge"},
		{"world", "judge", "--eval", "-1"},
		{"world", "judge", "--eval", "3", path},
		{"world", "judge", "--augmented", path},
		{"world", "train-judges", "extra"},
		{"world", "train-judges", "--steps", "-2"},
	} {
		if code, _, _ := runMain(bad...); code != 2 {
			t.Errorf("%q: exit %d, want 2 (usage)", bad, code)
		}
	}
	if code, _, stderr := runMain("world", "judge", filepath.Join(dir, "missing.png")); code != 1 || !strings.Contains(stderr, "missing.png") {
		t.Errorf("missing image: exit %d, stderr %q", code, stderr)
	}
}

func TestWorldTrainJudgesCommand(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	out := t.TempDir()
	code, stdout, stderr := runMain("world", "train-judges", "--out", out, "--steps", "3", "--batch", "4", "--save-every", "2", "--f32", "--stem", "-1")
	if code != 0 {
		t.Fatalf("train-judges: exit %d\n%s", code, stderr)
	}
	// stderr is not a terminal here: plain progress lines.
	if !strings.Contains(stderr, "step 3/3 loss") || !strings.Contains(stdout, "3 steps") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, judge.CheckpointFile)); !os.IsNotExist(err) {
		t.Errorf("checkpoint left after a finished run: %v", err)
	}
	b, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	if j, err := judge.LoadFile(b, filepath.Join(out, JudgesFile)); err != nil || j.Stem != 0 {
		t.Fatalf("trained judges: %v (stem %v, want none)", err, j)
	}
	code, stdout, stderr = runMain("world", "judge", "--weights", filepath.Join(out, JudgesFile), "--eval", "4")
	if code != 0 || !strings.Contains(stdout, "4 held-out") {
		t.Fatalf("judge with trained weights: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, _, stderr := runMain("world", "train-judges", "--out", t.TempDir(), "--resume", "--steps", "3"); code != 1 || !strings.Contains(stderr, "resume") {
		t.Errorf("resume without checkpoint: exit %d, stderr %q", code, stderr)
	}
}
