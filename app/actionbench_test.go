package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/placeholder"
	"kata/model/sd/sdtest"
	"kata/store"
	"kata/store/actionfolder/actionfoldertest"
)

// TestActionBenchFolder trains from and imports one ActionBench folder: both
// paths read it and give every photo the same caption.
func TestActionBenchFolder(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	lib := filepath.Join(t.TempDir(), "lib")
	t.Setenv(store.EnvLibrary, lib)
	dir := actionfoldertest.Write(t, filepath.Join(t.TempDir(), "handstand"), "handstand", 10)

	out := filepath.Join(t.TempDir(), "handstand.safetensors")
	code, stdout, stderr := runMain("train", "--model", sdtest.TinyDir(), "--images", dir, "--name", "handstand",
		"--out", out, "--method", "ti", "--steps", "1")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if id, err := adi.Load(out); err != nil || id.Trigger != "<handstand>" {
		t.Errorf("identifier %+v, %v", id, err)
	}
	if code, stdout, stderr = runMain("library", "import", dir); code != 0 || !strings.Contains(stdout, "added 10") {
		t.Fatalf("import: exit %d\n%s\n%s", code, stdout, stderr)
	}

	exemplars, files, err := folderExemplars([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := store.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	a, err := l.ActionByName(ctx, "handstand")
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := l.Exemplars(ctx, a.ID)
	if len(rows) != 10 || len(exemplars) != 10 {
		t.Fatalf("%d imported, %d read for training", len(rows), len(exemplars))
	}
	for i, r := range rows {
		want := placeholder.Fill(actionfoldertest.Template(i+1), "<handstand>")
		train := placeholder.Fill(exemplars[i].Template, a.Trigger)
		if filepath.Base(files[i]) != filepath.Base(r.Source) || r.Caption != want || train != want {
			t.Errorf("photo %d: import %s %q, train %s %q; want %q", i, filepath.Base(r.Source), r.Caption, filepath.Base(files[i]), train, want)
		}
	}
	// The window trains from the library rows: the same templates again.
	fromLib, err := libraryExemplars(ctx, l, a)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range fromLib {
		if e.Template != exemplars[i].Template {
			t.Errorf("photo %d: library template %q, folder template %q", i, e.Template, exemplars[i].Template)
		}
	}
}
