package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kata/store/contenthash"
)

func openTemp(t *testing.T) *Library {
	t.Helper()
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = c.R, c.G, c.B, c.A
	}
	return img
}

func TestCRUD(t *testing.T) {
	ctx := context.Background()
	l := openTemp(t)
	var mode string
	var fk, sync int
	l.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	l.DB().QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	l.DB().QueryRow(`PRAGMA synchronous`).Scan(&sync)
	if mode != "wal" || fk != 1 || sync != 2 {
		t.Errorf("journal_mode %s, foreign_keys %d, synchronous %d; want wal, 1, 2 (FULL)", mode, fk, sync)
	}
	a, err := l.CreateAction(ctx, Action{Name: "hand stand"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Trigger != "<hand-stand>" {
		t.Errorf("trigger %q", a.Trigger)
	}
	if _, err := l.CreateAction(ctx, Action{Name: "hand stand"}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate action: %v", err)
	}
	a.Notes = "arms straight"
	if err := l.UpdateAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, _ := l.ActionByName(ctx, "hand stand"); got.Notes != "arms straight" {
		t.Errorf("notes %q", got.Notes)
	}
	if _, err := l.Action(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing action: %v", err)
	}

	red := solid(32, 32, color.NRGBA{200, 0, 0, 255})
	e, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID, Caption: "a man <hand-stand>", Crop: image.Rect(1, 2, 30, 31)}, red)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, red); !errors.Is(err, ErrDuplicate) {
		t.Errorf("duplicate exemplar: %v", err)
	}
	got, err := l.Exemplar(ctx, e.ID)
	if err != nil || got.Crop != image.Rect(1, 2, 30, 31) || got.Caption != e.Caption {
		t.Errorf("exemplar %+v %v", got, err)
	}
	img, err := l.Image(e.Image)
	if err != nil || img.Bounds().Dx() != 32 {
		t.Fatalf("image: %v", err)
	}
	if r, _, _, _ := img.At(3, 3).RGBA(); r>>8 != 200 {
		t.Errorf("pixel red %d", r>>8)
	}

	id, err := l.CreateIdentifier(ctx, Identifier{ActionID: a.ID, Method: "adi", BaseModelHash: "abc"})
	if err != nil || id.Name != "hand stand" {
		t.Fatal(id, err)
	}
	v1, err := l.AddIdentifierVersion(ctx, IdentifierVersion{IdentifierID: id.ID, Params: map[string]any{"steps": 500.0},
		Metrics: map[string]float64{"loss": 0.12}}, []byte("file one"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := l.AddIdentifierVersion(ctx, IdentifierVersion{IdentifierID: id.ID}, []byte("file two"))
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != 1 || v2.Version != 2 {
		t.Errorf("versions %d %d", v1.Version, v2.Version)
	}
	vs, err := l.IdentifierVersions(ctx, id.ID)
	if err != nil || len(vs) != 2 || vs[0].Metrics["loss"] != 0.12 || vs[0].Params["steps"] != 500.0 {
		t.Errorf("versions %+v %v", vs, err)
	}
	if latest, _ := l.LatestVersion(ctx, id.ID); latest.ID != v2.ID {
		t.Errorf("latest %+v", latest)
	}

	s, err := l.CreateSubject(ctx, Subject{Name: "panda", Prompt: "a panda"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.PutModel(ctx, Model{Path: "/m/sd15", Kind: "diffusers", Hash: "cc6cb27103", Name: "SD 1.5"}); err != nil {
		t.Fatal(err)
	}
	g, err := l.AddGeneration(ctx, Generation{Prompt: "a panda <hand-stand>", Seed: 7, Steps: 20, CFG: 7.5, Sampler: "DDIM",
		ModelHash: "cc6cb27103", IdentifierVersions: []int64{v2.ID}, SubjectID: s.ID, ActionID: a.ID}, red)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetFavourite(ctx, g.ID, true); err != nil {
		t.Fatal(err)
	}
	gs, err := l.Generations(ctx, GenerationFilter{Favourites: true, ActionID: a.ID})
	if err != nil || len(gs) != 1 || gs[0].Width != 32 || len(gs[0].IdentifierVersions) != 1 || gs[0].IdentifierVersions[0] != v2.ID {
		t.Fatalf("generations %+v %v", gs, err)
	}
	set, err := l.Settings(ctx, gs[0])
	if err != nil || set.Model != "SD 1.5" || len(set.Identifiers) != 1 || set.Identifiers[0] != "hand-stand:"+v2.File[:12] {
		t.Errorf("settings %+v %v", set, err)
	}
	ids, err := l.ResolveIdentifiers(ctx, set.Identifiers)
	if err != nil || len(ids) != 1 || ids[0] != v2.ID {
		t.Errorf("resolve %v: %v %v", set.Identifiers, ids, err)
	}
	if _, err := l.ResolveIdentifiers(ctx, []string{"x:0000000000", "file.safetensors", "y:%%%%%%%%%%"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("resolve unknown: %v", err)
	}

	j, err := l.CreateJob(ctx, Job{Kind: "train", Params: map[string]any{"identifier": float64(id.ID)}})
	if err != nil {
		t.Fatal(err)
	}
	j.State, j.Progress, j.Checkpoint = JobRunning, 0.5, "/x/ckpt"
	if err := l.UpdateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	c, err := l.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Actions: 1, Exemplars: 1, Identifiers: 1, Versions: 2, Subjects: 1, Generations: 1, Favourites: 1, Models: 1, Jobs: 1, Files: 4}
	c.Bytes = 0
	if c != want {
		t.Errorf("counts %+v, want %+v", c, want)
	}

	// Deleting the action removes its exemplars, identifiers and their files;
	// the generation keeps its image.
	if err := l.DeleteAction(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.BlobPath(v1.File)); !os.IsNotExist(err) {
		t.Errorf("identifier file kept after delete: %v", err)
	}
	if _, err := os.Stat(l.BlobPath(g.Image)); err != nil {
		t.Errorf("generation image: %v", err)
	}
	if g2, _ := l.Generation(ctx, g.ID); g2.ActionID != 0 || len(g2.IdentifierVersions) != 0 {
		t.Errorf("generation after action delete %+v", g2)
	}
	rep, err := l.Check(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Errorf("check: %v %v", rep.Problems, err)
	}
	// The job was "running" when the process went away: reopening marks it.
	l.Close()
	l2, err := Open(l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if j2, _ := l2.Job(ctx, j.ID); j2.State != JobInterrupted || j2.Checkpoint != "/x/ckpt" {
		t.Errorf("job after reopen %+v", j2)
	}
}

func TestRepair(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.CreateAction(ctx, Action{Name: "sit"})
	e1, _ := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, solid(16, 16, color.NRGBA{1, 2, 3, 255}))
	e2, _ := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, solid(16, 16, color.NRGBA{4, 5, 6, 255}))
	e3, _ := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, solid(16, 16, color.NRGBA{7, 8, 9, 255}))
	l.Close()

	// A file without a row, a leftover temp file, a missing file, a corrupt file.
	orphan := filepath.Join(dir, blobsDir, "ab", "ab"+contenthash.Bytes([]byte("x"))[2:])
	os.MkdirAll(filepath.Dir(orphan), 0o755)
	os.WriteFile(orphan, []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, tmpDir, ".write-123"), []byte("half"), 0o644)
	os.Remove(l.BlobPath(e1.Image))
	data, _ := os.ReadFile(l.BlobPath(e2.Image))
	data[len(data)/2] ^= 1
	os.WriteFile(l.BlobPath(e2.Image), data, 0o644)

	// Open clears only the temp file: rows and stored files stay as they are.
	l, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ps := l.OpenReport().Problems; len(ps) != 1 || ps[0].Kind != ProblemTempFile || !ps[0].Fixed {
		t.Errorf("open report %v", ps)
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Errorf("open moved the orphan: %v", err)
	}
	if es, _ := l.Exemplars(ctx, a.ID); len(es) != 3 {
		t.Errorf("open changed the exemplars: %d left", len(es))
	}
	rep, err := l.Check(ctx)
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	if err != nil || kinds[ProblemOrphanFile] != 1 || kinds[ProblemMissingFile] != 1 || kinds[ProblemCorruptFile] != 1 || rep.OK() {
		t.Fatalf("check: %v %v", rep.Problems, err)
	}
	rep, err = l.Repair(ctx)
	if err != nil || !rep.OK() || rep.Quarantine == "" {
		t.Fatalf("repair: %v %q %v", rep.Problems, rep.Quarantine, err)
	}
	es, _ := l.Exemplars(ctx, a.ID)
	if len(es) != 1 || es[0].ID != e3.ID {
		t.Errorf("exemplars after repair %+v", es)
	}
	if rep, _ := l.Check(ctx); len(rep.Problems) != 0 {
		t.Errorf("problems after repair %v", rep.Problems)
	}
	if _, err := UndoRepair(dir); !errors.Is(err, ErrInUse) {
		t.Errorf("undo while open: %v", err)
	}
	l.Close()

	// Undo brings back the rows and the moved files as they were.
	done, err := UndoRepair(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(done), undonePrefix) {
		t.Errorf("undone folder %s", done)
	}
	l, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if es, _ := l.Exemplars(ctx, a.ID); len(es) != 3 {
		t.Errorf("exemplars after undo: %d", len(es))
	}
	if _, err := os.Stat(orphan); err != nil {
		t.Errorf("orphan not back: %v", err)
	}
	if got, _ := os.ReadFile(l.BlobPath(e2.Image)); !bytes.Equal(got, data) {
		t.Errorf("corrupt file not put back as it was")
	}
	if _, err := UndoRepair(dir); !errors.Is(err, ErrInUse) {
		t.Errorf("second undo while open: %v", err)
	}
	l.Close()
	if _, err := UndoRepair(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("undo with nothing to undo: %v", err)
	}
}

// A library whose blobs folder is gone is refused, untouched, and whole again
// once the folder is back.
func TestOpenMissingBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.CreateAction(ctx, Action{Name: "sit"})
	for i := range 3 {
		if _, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, solid(16, 16, color.NRGBA{uint8(i), 2, 3, 255})); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	blobs := filepath.Join(dir, blobsDir)
	aside := filepath.Join(t.TempDir(), "blobs")
	if err := os.Rename(blobs, aside); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, dbName))
	for range 2 {
		if _, err := Open(dir); !errors.Is(err, ErrNoBlobs) || !strings.Contains(err.Error(), blobs) {
			t.Fatalf("open without blobs: %v", err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, dbName)); !bytes.Equal(before, after) {
		t.Errorf("open without blobs changed the database")
	}
	if _, err := os.Stat(blobs); err == nil {
		t.Errorf("open without blobs made the folder")
	}
	os.Rename(aside, blobs)
	l, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	rep, err := l.Check(ctx)
	if err != nil || len(rep.Problems) != 0 || rep.Blobs != 3 {
		t.Errorf("check after the folder is back: %v %d %v", rep.Problems, rep.Blobs, err)
	}
}

// A database with damaged pages opens for reading and refuses writes.
func TestOpenDamagedDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if _, err := l.CreateAction(ctx, Action{Name: fmt.Sprintf("action %03d %s", i, strings.Repeat("x", 180))}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	db := filepath.Join(dir, dbName)
	data, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	if len(data) < 8*page {
		t.Fatalf("database only %d bytes", len(data))
	}
	// Scribble over the middle of the database's pages, keeping its header.
	for i := 3 * page; i < 5*page; i++ {
		data[i] = byte(i * 7)
	}
	os.WriteFile(db, data, 0o644)
	l, err = Open(dir)
	if err != nil {
		t.Fatalf("open damaged: %v", err)
	}
	defer l.Close()
	if !errors.Is(l.WriteErr(), ErrDamaged) {
		t.Fatalf("write error %v", l.WriteErr())
	}
	if _, err := l.CreateAction(ctx, Action{Name: "new"}); !errors.Is(err, ErrDamaged) {
		t.Errorf("write to a damaged database: %v", err)
	}
	if _, err := l.AddExemplar(ctx, Exemplar{ActionID: 1}, solid(16, 16, color.NRGBA{1, 2, 3, 255})); !errors.Is(err, ErrDamaged) {
		t.Errorf("exemplar into a damaged database: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, blobsDir)); len(ents) != 0 {
		t.Errorf("a refused write left files: %v", ents)
	}
	if _, err := l.Repair(ctx); !errors.Is(err, ErrDamaged) {
		t.Errorf("repair of a damaged database: %v", err)
	}
}

func TestRepairNeedsExclusive(t *testing.T) {
	dir := t.TempDir()
	l1, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	l2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if _, err := l2.Repair(context.Background()); !errors.Is(err, ErrInUse) {
		t.Errorf("repair while shared: %v", err)
	}
	l1.Close()
	if _, err := l2.Repair(context.Background()); err != nil {
		t.Errorf("repair alone: %v", err)
	}
}

func TestOpenBadLibrary(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, dbName), []byte("this is not an SQLite database, just text long enough to have a header....."), 0o644)
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), dbName) {
		t.Errorf("garbage database: %v", err)
	}
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o644)
	if _, err := Open(file); err == nil {
		t.Error("opened a plain file as a library")
	}
	if _, err := Open(""); err == nil {
		t.Error("opened an empty path")
	}
}

// TestConcurrentLibraries has two Library values on one directory (the
// window and a CLI command, say) add and delete the same picture at once,
// each to its own action, so the file's blob row comes and goes: while a
// row exists, its file must exist too.
func TestConcurrentLibraries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var libs [2]*Library
	var actions [2]Action
	for i := range libs {
		l, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		libs[i] = l
		if actions[i], err = l.CreateAction(ctx, Action{Name: fmt.Sprint("a", i)}); err != nil {
			t.Fatal(err)
		}
	}
	shared := solid(8, 8, color.NRGBA{1, 0, 0, 255})
	// Widen the windows between file and row, as in the crash test.
	testHookAfterFile = func() { time.Sleep(time.Millisecond) }
	defer func() { testHookAfterFile = nil }()
	errs := make(chan error, 2)
	for w, l := range libs {
		go func() {
			for i := 0; i < 60; i++ {
				e, err := l.AddExemplar(ctx, Exemplar{ActionID: actions[w].ID}, shared)
				if err == nil {
					time.Sleep(2 * time.Millisecond)
					if _, err = os.Stat(l.BlobPath(e.Image)); err != nil {
						err = fmt.Errorf("committed exemplar lost its file: %w", err)
					}
				}
				if err == nil {
					err = l.DeleteExemplar(ctx, e.ID)
					// Let the other side add the picture before this one does.
					time.Sleep(4 * time.Millisecond)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	// Wait for both before failing: the libraries close when the test returns.
	err1, err2 := <-errs, <-errs
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	rep, err := libs[0].Check(ctx)
	if err != nil || len(rep.Problems) != 0 {
		t.Errorf("check: %v %v", rep.Problems, err)
	}
}

func TestUseAfterClose(t *testing.T) {
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := l.Actions(context.Background()); err == nil {
		t.Error("query after Close succeeded")
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
