package app

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/placeholder"
	"kata/model/sd/sdtest"
	"kata/model/world"
	"kata/store"
)

func TestWorldRenderFlags(t *testing.T) {
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no action", []string{"--out", t.TempDir()}, 2, "--action and --out are required"},
		{"no out", []string{"--action", "sit"}, 2, "--action and --out are required"},
		{"unknown action", []string{"--action", "fly", "--out", t.TempDir()}, 2, `unknown action "fly"`},
		{"size too small", []string{"--action", "sit", "--out", t.TempDir(), "--size", "8"}, 2, "--size 8 outside"},
		{"too many pictures", []string{"--action", "sit", "--out", t.TempDir(), "--n", "100"}, 2, "--n 100 outside"},
		{"stray argument", []string{"--action", "sit", "--out", t.TempDir(), "extra"}, 2, "unexpected arguments"},
		{"folder not empty", []string{"--action", "sit", "--out", full}, 1, "is not empty (--force"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runMain(append([]string{"world", "render"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
	if b, _ := os.ReadFile(filepath.Join(full, "notes.txt")); string(b) != "mine" {
		t.Fatalf("a refused render touched the user's file: %q", b)
	}
}

// TestWorldRenderWritesSet: the folder holds exactly the set's pictures (the
// renders of its scenes), NN.txt captions and text.json templates.
func TestWorldRenderWritesSet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "squat")
	code, stdout, stderr := runMain("world", "render", "--action", "squat", "--out", dir, "--seed", "5", "--size", "64")
	if code != 0 || !strings.Contains(stdout, "wrote 10 pictures of squat") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	set, err := world.ExemplarSet("squat", 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2*len(set)+1 {
		t.Fatalf("%d files in the folder, want %d", len(ents), 2*len(set)+1)
	}
	var templates map[string][]string
	data, err := os.ReadFile(filepath.Join(dir, "text.json"))
	if err != nil || json.Unmarshal(data, &templates) != nil {
		t.Fatalf("text.json %q: %v", data, err)
	}
	for _, e := range set {
		f, err := os.Open(filepath.Join(dir, e.Name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		want := world.Render(e.Scene, 64)
		var got bytes.Buffer
		for y := range 64 {
			for x := range 64 {
				r, g, b, _ := img.At(x, y).RGBA()
				got.Write([]byte{byte(r >> 8), byte(g >> 8), byte(b >> 8), 255})
			}
		}
		if !bytes.Equal(got.Bytes(), want.Pix) {
			t.Errorf("%s is not the render of its scene", e.Name)
		}
		txt, _ := os.ReadFile(filepath.Join(dir, e.TextName()))
		if strings.TrimSpace(string(txt)) != e.Caption || !strings.Contains(string(txt), "squatting") {
			t.Errorf("%s: %q, want %q", e.TextName(), txt, e.Caption)
		}
		if l := templates[e.Name]; len(l) != 1 || l[0] != e.Template {
			t.Errorf("text.json[%s] = %q, want [%q]", e.Name, l, e.Template)
		}
	}
	// Writing again needs --force, and then gives the same bytes.
	before, _ := os.ReadFile(filepath.Join(dir, "03.png"))
	if code, _, _ := runMain("world", "render", "--action", "squat", "--out", dir, "--seed", "5", "--size", "64"); code != 1 {
		t.Fatalf("second render without --force: exit %d", code)
	}
	if code, _, stderr := runMain("world", "render", "--action", "squat", "--out", dir, "--seed", "5", "--size", "64", "--force"); code != 0 {
		t.Fatalf("render --force: exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "03.png")); !bytes.Equal(before, after) {
		t.Fatal("the same seed wrote different bytes")
	}
}

// TestWorldRenderRoundTrip: a rendered set is an ActionBench folder to Kata's
// own readers. The library's importer makes one action named after the
// folder with every picture, captioned with its text.json template and the
// action's trigger; the trainer reads the same templates from the folder and
// trains from it.
func TestWorldRenderRoundTrip(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	libDir := filepath.Join(t.TempDir(), "lib")
	t.Setenv(store.EnvLibrary, libDir)
	dir := filepath.Join(t.TempDir(), "handstand")
	if code, _, stderr := runMain("world", "render", "--action", "handstand", "--out", dir, "--size", "64"); code != 0 {
		t.Fatalf("render: exit %d: %s", code, stderr)
	}
	set, _ := world.ExemplarSet("handstand", 1, 0)

	lib, err := store.Open(libDir)
	if err != nil {
		t.Fatal(err)
	}
	defer lib.Close()
	res, err := lib.Import(t.Context(), []string{dir}, store.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != world.ExemplarCount || len(res.Failed) != 0 || len(res.Actions) != 1 || res.Actions[0].Name != "handstand" {
		t.Fatalf("import: %d added, failed %v, actions %+v", len(res.Added), res.Failed, res.Actions)
	}
	trigger := res.Actions[0].Trigger
	exemplars, files, err := folderExemplars([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(exemplars) != len(set) {
		t.Fatalf("trainer read %d exemplars, want %d", len(exemplars), len(set))
	}
	for i, e := range res.Added {
		want := strings.ReplaceAll(set[i].Template, "{}", trigger)
		if e.Caption != want || filepath.Base(e.Source) != set[i].Name {
			t.Errorf("imported %d: %s %q, want %s %q", i, filepath.Base(e.Source), e.Caption, set[i].Name, want)
		}
		if got := placeholder.Fill(exemplars[i].Template, trigger); got != want || filepath.Base(files[i]) != set[i].Name {
			t.Errorf("trainer's %d: %s %q, want %s %q", i, filepath.Base(files[i]), got, set[i].Name, want)
		}
		if b := exemplars[i].Image.Bounds(); b.Dx() != 64 || b.Dy() != 64 {
			t.Errorf("trainer's %d: %v picture", i, b)
		}
	}
	out := filepath.Join(t.TempDir(), "handstand.safetensors")
	code, stdout, stderr := runMain("train", "--model", sdtest.TinyDir(), "--images", dir, "--name", "handstand",
		"--out", out, "--method", "ti", "--steps", "1")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if id, err := adi.Load(out); err != nil || id.Trigger != "<handstand>" {
		t.Errorf("identifier %+v, %v", id, err)
	}
}

func TestWorldSheet(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sheets", "sheet.png")
	code, stdout, stderr := runMain("world", "sheet", "--out", out, "--cell", "32", "--kinds", "cat,bear", "--actions", "sit,stand,pray", "--random")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// Labels take a margin on the left and on top; cells are 32 pixels.
	if cfg.Width < 3*32 || cfg.Width > 3*32+100 || cfg.Height < 2*32 || cfg.Height > 2*32+60 {
		t.Fatalf("sheet of 2 x 3 cells of 32 px is %dx%d", cfg.Width, cfg.Height)
	}
	for _, bad := range [][]string{{"--cell", "8"}, {"--kinds", "dragon"}, {"--actions", "fly"}, {}} {
		args := append([]string{"world", "sheet"}, bad...)
		if len(bad) > 0 {
			args = append(args, "--out", out)
		}
		if code, _, _ := runMain(args...); code != 2 {
			t.Errorf("sheet %q: exit %d, want 2", bad, code)
		}
	}
}
