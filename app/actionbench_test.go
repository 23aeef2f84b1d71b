package app

import (
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/sd/sdtest"
	"kata/store"
)

// actionBenchFolder writes a folder in exactly ActionBench's layout: 01.jpg
// .. 10.jpg (JPEGs), NN.txt with the full caption (the action in words) and
// text.json, an object mapping each file name to a LIST of templates.
func actionBenchFolder(t *testing.T, action string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), action)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var entries []string
	for i := 1; i <= 10; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 64+4*i, 96))
		for p := range img.Pix {
			img.Pix[p] = uint8(i*23 + p%7)
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%02d.jpg", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := jpeg.Encode(f, img, nil); err != nil {
			t.Fatal(err)
		}
		f.Close()
		template := fmt.Sprintf("Young fit woman number %d {} in studio", i)
		full := strings.ReplaceAll(template, "{}", "doing a "+action)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.txt", i)), []byte(full+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf("%q: [%q]", fmt.Sprintf("%02d.jpg", i), template))
	}
	if err := os.WriteFile(filepath.Join(dir, "text.json"), []byte("{"+strings.Join(entries, ",\n")+"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestActionBenchFolder trains from and imports one ActionBench folder: both
// paths read it and give every photo the same caption.
func TestActionBenchFolder(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	lib := filepath.Join(t.TempDir(), "lib")
	t.Setenv(store.EnvLibrary, lib)
	dir := actionBenchFolder(t, "handstand")

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
		want := fmt.Sprintf("Young fit woman number %d <handstand> in studio", i+1)
		train := adi.Fill(exemplars[i].Template, a.Trigger)
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
