package store

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"kata/store/contenthash"
)

// exportFixture makes 2 subjects x 2 actions with generations in 3 cells.
func exportFixture(t *testing.T) (*Library, []Subject, []Action, []Generation) {
	t.Helper()
	ctx := context.Background()
	l := openTemp(t)
	var subs []Subject
	var acts []Action
	for _, n := range []string{"panda", "robot"} {
		s, err := l.CreateSubject(ctx, Subject{Name: n, Prompt: "a " + n})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	for _, n := range []string{"handstand", "salute"} {
		a, err := l.CreateAction(ctx, Action{Name: n})
		if err != nil {
			t.Fatal(err)
		}
		acts = append(acts, a)
	}
	colors := []color.NRGBA{{200, 30, 30, 255}, {30, 200, 30, 255}, {30, 30, 200, 255}}
	cells := [][2]int{{0, 0}, {0, 1}, {1, 0}}
	var gens []Generation
	for i, c := range cells {
		g, err := l.AddGeneration(ctx, Generation{Prompt: subs[c[0]].Prompt + " " + acts[c[1]].Trigger, Negative: "blurry",
			Seed: int64(100 + i), Steps: 20, CFG: 7.5, Sampler: "DDIM", ModelHash: "feedface", SubjectID: subs[c[0]].ID,
			ActionID: acts[c[1]].ID}, solid(64, 48, colors[i]))
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, g)
	}
	return l, subs, acts, gens
}

func TestExportImagesRoundTrip(t *testing.T) {
	ctx := context.Background()
	l, _, _, gens := exportFixture(t)
	dir := t.TempDir()
	for _, format := range []string{FormatPNG, FormatJPEG} {
		paths, err := l.ExportImages(ctx, dir, gens, format, 90)
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) != 3 || filepath.Base(paths[0]) != map[string]string{FormatPNG: "0001-panda-handstand-100.png", FormatJPEG: "0001-panda-handstand-100.jpg"}[format] {
			t.Fatalf("paths %v", paths)
		}
		// "Use these settings again": the file alone gives back the settings.
		s, err := ReadSettings(paths[2])
		if err != nil {
			t.Fatal(err)
		}
		want, _ := l.Settings(ctx, gens[2])
		if !reflect.DeepEqual(s, want) || s.Seed != 102 || s.Prompt != "a robot <handstand>" || s.Width != 64 {
			t.Errorf("%s settings %+v, want %+v", format, s, want)
		}
	}
	f, _ := os.Open(filepath.Join(dir, "0002-panda-salute-101.jpg"))
	defer f.Close()
	img, err := jpeg.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if r, g, _, _ := img.At(30, 20).RGBA(); r>>8 > 60 || g>>8 < 170 {
		t.Errorf("jpeg pixel %d %d", r>>8, g>>8)
	}
}

func TestExportZip(t *testing.T) {
	ctx := context.Background()
	l, _, acts, gens := exportFixture(t)
	e, err := l.AddExemplar(ctx, Exemplar{ActionID: acts[0].ID, Caption: "a man <handstand>", Source: "/photos/IMG 01.jpg"},
		solid(80, 80, color.NRGBA{1, 2, 3, 255}))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := l.CreateIdentifier(ctx, Identifier{ActionID: acts[0].ID, Method: "adi", BaseModelHash: "feedface"})
	v, err := l.AddIdentifierVersion(ctx, IdentifierVersion{IdentifierID: id.ID, Metrics: map[string]float64{"action_acc": 0.5}}, []byte("safetensors bytes"))
	if err != nil {
		t.Fatal(err)
	}
	zpath := filepath.Join(t.TempDir(), "out.zip")
	if err := l.ExportZipFile(ctx, zpath, Selection{Generations: gens[:2], Exemplars: []Exemplar{e}, IdentifierVersions: []int64{v.ID}}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zpath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	var m Manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 4 || len(files) != 5 {
		t.Fatalf("manifest %+v, files %d", m.Files, len(files))
	}
	wantPaths := []string{"generations/0001-panda-handstand-100.png", "generations/0002-panda-salute-101.png",
		"exemplars/handstand/IMG-01.png", "identifiers/handstand-adi-v1.safetensors"}
	for i, entry := range m.Files {
		if entry.Path != wantPaths[i] {
			t.Errorf("entry %d path %s, want %s", i, entry.Path, wantPaths[i])
		}
		if contenthash.Bytes(files[entry.Path]) != entry.SHA256 {
			t.Errorf("%s: hash mismatch", entry.Path)
		}
	}
	if m.Files[0].Settings == nil || m.Files[0].Settings.Seed != 100 || m.Files[0].Subject != "panda" {
		t.Errorf("generation entry %+v", m.Files[0])
	}
	if m.Files[3].Metrics["action_acc"] != 0.5 || m.Files[3].BaseModelHash != "feedface" || string(files[wantPaths[3]]) != "safetensors bytes" {
		t.Errorf("identifier entry %+v", m.Files[3])
	}
	if got := IdentifierFileName(Identifier{Name: "handstand", Method: "adi"}, v); got != "handstand-adi-v1.safetensors" {
		t.Errorf("identifier file name %s", got)
	}
}

func TestContactSheet(t *testing.T) {
	ctx := context.Background()
	l, subs, acts, gens := exportFixture(t)
	// A newer generation in cell (0,0) that is not the favourite: the sheet
	// must keep showing the favourite.
	if err := l.SetFavourite(ctx, gens[0].ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddGeneration(ctx, Generation{Prompt: "later", SubjectID: subs[0].ID, ActionID: acts[0].ID},
		solid(64, 48, color.NRGBA{0, 0, 0, 255})); err != nil {
		t.Fatal(err)
	}
	const cell = 96
	sheet, err := l.ContactSheet(ctx, SheetOptions{Cell: cell})
	if err != nil {
		t.Fatal(err)
	}
	// Find the grid from the layout rules: cells start after the label column.
	pad := cell / 16
	w, h := sheet.Bounds().Dx(), sheet.Bounds().Dy()
	labelW := w - 2*(cell+pad) - pad
	headerH := h - 2*(cell+pad) - pad
	if labelW <= 2*pad || headerH <= 2*pad {
		t.Fatalf("sheet %dx%d leaves no room for labels", w, h)
	}
	centre := func(row, col int) color.NRGBA {
		return sheet.NRGBAAt(labelW+col*(cell+pad)+cell/2, headerH+row*(cell+pad)+cell/2)
	}
	want := map[[2]int]color.NRGBA{{0, 0}: {200, 30, 30, 255}, {0, 1}: {30, 200, 30, 255}, {1, 0}: {30, 30, 200, 255}, {1, 1}: sheetEmpty}
	for rc, c := range want {
		got := centre(rc[0], rc[1])
		if absDiff(got.R, c.R) > 3 || absDiff(got.G, c.G) > 3 || absDiff(got.B, c.B) > 3 {
			t.Errorf("cell %v: %v, want %v", rc, got, c)
		}
	}
	// Labels: dark text pixels in each column header and each row label.
	dark := func(r image.Rectangle) int {
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				if c := sheet.NRGBAAt(x, y); c.R < 100 && c.G < 100 && c.B < 100 {
					n++
				}
			}
		}
		return n
	}
	for col := 0; col < 2; col++ {
		if n := dark(image.Rect(labelW+col*(cell+pad), 0, labelW+col*(cell+pad)+cell, headerH)); n < 20 {
			t.Errorf("column %d header has %d text pixels", col, n)
		}
	}
	for row := 0; row < 2; row++ {
		if n := dark(image.Rect(0, headerH+row*(cell+pad), labelW, headerH+row*(cell+pad)+cell)); n < 20 {
			t.Errorf("row %d label has %d text pixels", row, n)
		}
	}
	if n := dark(image.Rect(0, 0, labelW, headerH)); n != 0 {
		t.Errorf("corner has %d dark pixels", n)
	}
	if _, err := l.ContactSheet(ctx, SheetOptions{Subjects: []Subject{}}); err == nil {
		t.Error("empty sheet accepted")
	}
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"a/b\\c:d": "a-b-c-d", "  ": "untitled", "..": "untitled", "Café au lait": "Café-au-lait",
		"x\x00y": "x-y"} {
		if got := SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
	if n := len(SafeName(string(bytes.Repeat([]byte("é"), 100)))); n > 80 {
		t.Errorf("long name %d bytes", n)
	}
}

func TestThumbnail(t *testing.T) {
	l, _, _, gens := exportFixture(t)
	for i := 0; i < 2; i++ { // built, then read from the cache
		th, err := l.Thumbnail(gens[0].Image, 32)
		if err != nil {
			t.Fatal(err)
		}
		if th.Bounds().Dx() != 32 || th.Bounds().Dy() != 24 {
			t.Errorf("thumbnail %v", th.Bounds())
		}
		if r, g, _, _ := th.At(16, 12).RGBA(); r>>8 < 190 || g>>8 > 40 {
			t.Errorf("thumbnail colour %d %d", r>>8, g>>8)
		}
	}
	if _, err := os.Stat(filepath.Join(l.Dir(), "thumbs", "32", gens[0].Image[:2], gens[0].Image+".png")); err != nil {
		t.Errorf("not cached: %v", err)
	}
	if rep, err := l.Check(context.Background()); err != nil || len(rep.Problems) != 0 {
		t.Errorf("thumbnails upset the check: %v %v", rep.Problems, err)
	}
	if _, err := l.Thumbnail("nothex", 32); err == nil {
		t.Error("bad hash accepted")
	}
}
