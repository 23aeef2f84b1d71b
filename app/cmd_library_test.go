package app

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/safetensors"
	"kata/store"
)

func testPNG(t *testing.T, path string, w, h int, c color.NRGBA) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLibraryCommand(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "lib")
	photos := t.TempDir()
	testPNG(t, filepath.Join(photos, "salute", "1.png"), 80, 80, color.NRGBA{200, 0, 0, 255})
	testPNG(t, filepath.Join(photos, "salute", "2.png"), 80, 80, color.NRGBA{0, 200, 0, 255})
	testPNG(t, filepath.Join(photos, "salute", "3.png"), 20, 20, color.NRGBA{0, 0, 200, 255})
	os.WriteFile(filepath.Join(photos, "salute", "text.json"), []byte(`["a soldier {} at dawn"]`), 0o644)

	// One file too small: the rest imports, the command reports it and fails.
	code, out, errOut := runMain("library", "--library", lib, "import", filepath.Join(photos, "salute"))
	if code != 1 || !strings.Contains(out, "added 2, duplicates 0, failed 1 (actions: salute)") ||
		!strings.Contains(errOut, "3.png: image is too small") {
		t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runMain("library", "import", "--library", lib, "--action", "salute", filepath.Join(photos, "salute", "1.png"))
	if code != 0 || !strings.Contains(out, "duplicates 1") {
		t.Errorf("re-import: %d %s", code, out)
	}

	// Add a subject and a generation through the store, as `kata generate` would.
	ctx := context.Background()
	l, err := store.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.ActionByName(ctx, "salute")
	es, _ := l.Exemplars(ctx, a.ID)
	if len(es) != 2 || es[0].Caption != "a soldier <salute> at dawn" {
		t.Errorf("exemplars %+v", es)
	}
	s, _ := l.CreateSubject(ctx, store.Subject{Name: "panda"})
	img, _ := l.Image(es[0].Image)
	if _, err := l.AddGeneration(ctx, store.Generation{Prompt: "a panda <salute>", Seed: 99, Steps: 20, CFG: 7,
		SubjectID: s.ID, ActionID: a.ID}, img); err != nil {
		t.Fatal(err)
	}
	id, _ := l.CreateIdentifier(ctx, store.Identifier{ActionID: a.ID, Method: "adi"})
	for i := range 2 {
		v, err := adi.NewIdentifier("salute", adi.MethodADI, 16, []float32{float32(i), 1, 2, 3})
		if err != nil {
			t.Fatal(err)
		}
		for l := range v.Vectors {
			v.Vectors[l][1] = float32(l)
		}
		var body bytes.Buffer
		if err := adi.Encode(&body, v); err != nil {
			t.Fatal(err)
		}
		if _, err := l.AddIdentifierVersion(ctx, store.IdentifierVersion{IdentifierID: id.ID}, body.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	t.Setenv(store.EnvLibrary, lib) // from here on the library comes from the environment
	code, out, _ = runMain("library", "info")
	for _, want := range []string{"actions      1", "exemplars    2", "identifiers  1 (2 versions)", "subjects     1", "generations  1"} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("info exit %d", code)
	}
	if code, out, _ = runMain("library", "check"); code != 0 || !strings.Contains(out, "ok: 5 files verified") {
		t.Errorf("check: %d %s", code, out)
	}

	dest := t.TempDir()
	if code, out, errOut = runMain("library", "export", "--format", "jpeg", "images", dest); code != 0 {
		t.Fatalf("export images: %d %s %s", code, out, errOut)
	}
	jpg := filepath.Join(dest, "0001-panda-salute-99.jpg")
	code, out, _ = runMain("library", "settings", jpg)
	if code != 0 || !strings.Contains(out, "a panda <salute>\nSteps: 20, CFG scale: 7, Seed: 99, Size: 80x80") {
		t.Errorf("settings: %d %q", code, out)
	}
	if code, out, errOut = runMain("library", "export", "--cell", "64", "sheet", filepath.Join(dest, "sheet.png")); code != 0 {
		t.Errorf("sheet: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dest, "sheet.png")); err != nil {
		t.Error(err)
	}
	if code, out, errOut = runMain("library", "export", "--action", "salute", "zip", filepath.Join(dest, "a.zip")); code != 0 ||
		!strings.Contains(out, "1 generation(s), 2 exemplar(s), 1 identifier(s)") {
		t.Errorf("zip: %d %s %s", code, out, errOut)
	}
	// An existing zip is replaced only with --force.
	before, _ := os.ReadFile(filepath.Join(dest, "a.zip"))
	if code, _, errOut = runMain("library", "export", "zip", filepath.Join(dest, "a.zip")); code != 1 || !strings.Contains(errOut, "--force") {
		t.Errorf("zip over an existing file: %d %s", code, errOut)
	}
	if after, _ := os.ReadFile(filepath.Join(dest, "a.zip")); !bytes.Equal(before, after) {
		t.Errorf("refused zip export changed the file")
	}
	if code, out, errOut = runMain("library", "export", "--force", "zip", filepath.Join(dest, "a.zip")); code != 0 {
		t.Errorf("zip --force: %d %s %s", code, out, errOut)
	}
	// Identifiers export the newest version under a readable name, in
	// Kata's layer-wise layout; --single-vector adds the one-vector mean in
	// the one-key layout other tools load, and says what it loses.
	code, out, errOut = runMain("library", "export", "identifiers", filepath.Join(dest, "ids"), "--single-vector")
	got, err := adi.Load(filepath.Join(dest, "ids", "salute-adi-v2.safetensors"))
	if code != 0 || err != nil || got.Method != adi.MethodADI || len(got.Vectors) != 16 || got.Vectors[0][0] != 1 {
		t.Fatalf("identifiers: %d %s %s %v", code, out, errOut, err)
	}
	f, err := safetensors.Open(filepath.Join(dest, "ids", "salute-adi-v2-single.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Info(adi.KeyEmbParams)
	mean, _, _ := f.Float32(adi.KeyEmbParams)
	if names := f.Names(); len(names) != 1 || names[0] != adi.KeyEmbParams || len(info.Shape) != 2 || info.Shape[0] != 1 ||
		mean[1] != 7.5 || !strings.Contains(errOut, "lost") {
		t.Errorf("single-vector export: keys %v shape %v mean %v, stderr %q", names, info.Shape, mean, errOut)
	}
	f.Close()

	// A file in the blobs folder without a row: check reports it, --repair
	// moves it aside, --undo puts it back.
	l, _ = store.Open(lib)
	stray := filepath.Join(lib, "blobs", "stray")
	os.WriteFile(stray, []byte("x"), 0o644)
	code, out, errOut = runMain("library", "check")
	if code != 1 || !strings.Contains(out, "orphan-file") || !strings.Contains(errOut, "--repair") {
		t.Errorf("check with stray file: %d %s %s", code, out, errOut)
	}
	if code, _, errOut = runMain("library", "check", "--repair"); code != 1 || !strings.Contains(errOut, "another Kata process") {
		t.Errorf("repair while in use: %d %s", code, errOut)
	}
	l.Close()
	if code, out, _ = runMain("library", "info"); code != 0 {
		t.Errorf("info: %d %s", code, out)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Errorf("info changed the library: %v", err)
	}
	if code, out, _ = runMain("library", "check", "--repair"); code != 0 || !strings.Contains(out, "--undo") {
		t.Errorf("repair: %d %s", code, out)
	}
	if _, err := os.Stat(stray); err == nil {
		t.Errorf("repair left the stray file")
	}
	if code, out, errOut = runMain("library", "check", "--undo"); code != 0 {
		t.Errorf("undo: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(stray); err != nil {
		t.Errorf("undo did not put the stray file back: %v", err)
	}
	if code, _, _ = runMain("library", "check", "--repair", "--undo"); code != 2 {
		t.Errorf("--repair --undo: exit %d, want 2", code)
	}

	for _, args := range [][]string{{"library"}, {"library", "frob"}, {"library", "export", "images"},
		{"library", "export", "--format", "gif", "images", dest}, {"library", "import"}, {"library", "info", "extra"}} {
		if code, _, _ := runMain(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
