package store

import (
	"context"
	"errors"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A library Kata cannot write opens for browsing: reads work, every write
// fails with ErrReadOnly, and the folder gains no file.
func TestOpenReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := l.CreateAction(ctx, Action{Name: "sit"})
	e, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID}, solid(64, 64, color.NRGBA{1, 2, 3, 255}))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	os.RemoveAll(filepath.Join(dir, tmpDir))
	list := func() []string {
		var names []string
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { names = append(names, p); return nil })
		return names
	}
	before := list()

	testHookReadOnly = true
	defer func() { testHookReadOnly = false }()
	l, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(l.WriteErr(), ErrReadOnly) {
		t.Errorf("write error %v", l.WriteErr())
	}
	if es, err := l.Exemplars(ctx, a.ID); err != nil || len(es) != 1 {
		t.Errorf("exemplars: %v %v", es, err)
	}
	if data, err := l.ReadBlob(e.Image); err != nil || len(data) == 0 {
		t.Errorf("read blob: %v", err)
	}
	if _, err := l.CreateAction(ctx, Action{Name: "new"}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("create action: %v", err)
	}
	if _, err := l.Repair(ctx); !errors.Is(err, ErrReadOnly) {
		t.Errorf("repair: %v", err)
	}
	if rep, err := l.Check(ctx); err != nil || len(rep.Problems) != 0 {
		t.Errorf("check: %v %v", rep.Problems, err)
	}
	l.Close()
	if after := list(); !slices.Equal(before, after) {
		t.Errorf("read-only open changed the folder:\nbefore %v\nafter  %v", before, after)
	}
}
