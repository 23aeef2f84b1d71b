package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"kata/store/atomicfile"
)

// Repair folders under lost+found.
const (
	repairPrefix = "repair-" // lost+found/repair-<time>: kata.db as it was, blobs/ the files moved
	undonePrefix = "undone-" // a repair folder after UndoRepair
)

// quarantine is the folder one Repair moves things into. It is made on first
// use, with a copy of the database taken before any row changes.
type quarantine struct {
	l   *Library
	dir string
	err error // first failure; later moves are not attempted
}

// backup makes the quarantine folder and copies the database into it.
func (q *quarantine) backup(ctx context.Context) error {
	if q.dir != "" || q.err != nil {
		return q.err
	}
	dir := filepath.Join(q.l.dir, lostFoundDir, repairPrefix+time.Now().UTC().Format("20060102-150405.000000000"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		q.err = fmt.Errorf("quarantine folder: %w", err)
		return q.err
	}
	if _, err := q.l.db.ExecContext(ctx, `VACUUM INTO ?`, filepath.Join(dir, dbName)); err != nil {
		q.err = fmt.Errorf("back up the database into %s: %w", dir, err)
		return q.err
	}
	q.dir = dir
	return nil
}

// move puts the file at p (inside blobs/) into the quarantine folder at the
// same relative path.
func (q *quarantine) move(ctx context.Context, p string) error {
	if err := q.backup(ctx); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Join(q.l.dir, blobsDir), p)
	if err != nil || strings.HasPrefix(rel, "..") {
		return fmt.Errorf("%s is not inside the blobs folder", p)
	}
	dst := filepath.Join(q.dir, blobsDir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Rename(p, dst)
}

// UndoRepair undoes the latest Repair of the library in dir, which must not
// be open in any process: the database is put back as it was before that
// repair (anything written since is lost) and the files it moved return to
// blobs/. The repair folder is renamed lost+found/undone-<time> and its path
// returned. With no repair to undo the error wraps fs.ErrNotExist.
func UndoRepair(dir string) (string, error) {
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("undo repair of %s: %w", dir, err)
	}
	defer lock.Close()
	alone, err := lockFile(lock, true, false)
	if err != nil {
		return "", fmt.Errorf("undo repair of %s: lock: %w", dir, err)
	}
	if !alone {
		return "", fmt.Errorf("undo repair of %s: %w", dir, ErrInUse)
	}
	defer unlockFile(lock)
	lf := filepath.Join(dir, lostFoundDir)
	ents, _ := os.ReadDir(lf)
	var names []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), repairPrefix) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return "", fmt.Errorf("undo repair of %s: no %s* folder in %s: %w", dir, repairPrefix, lf, fs.ErrNotExist)
	}
	sort.Strings(names)
	q := filepath.Join(lf, names[len(names)-1])
	if err := restoreDB(filepath.Join(q, dbName), dir); err != nil {
		return "", fmt.Errorf("undo repair %s: %w", q, err)
	}
	qblobs := filepath.Join(q, blobsDir)
	err = filepath.WalkDir(qblobs, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == qblobs {
			return fs.SkipDir
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(qblobs, p)
		dst := filepath.Join(dir, blobsDir, rel)
		if _, err := os.Stat(dst); err == nil {
			return nil // the same bytes were stored again since
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Rename(p, dst)
	})
	if err != nil {
		return "", fmt.Errorf("undo repair %s: %w", q, err)
	}
	done := filepath.Join(lf, undonePrefix+strings.TrimPrefix(filepath.Base(q), repairPrefix))
	if err := os.Rename(q, done); err != nil {
		return "", fmt.Errorf("undo repair %s: %w", q, err)
	}
	return done, nil
}

// restoreDB puts the backup at src in place of the library's database. The
// write-ahead log of the current one goes first: its pages belong to it.
func restoreDB(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	db := filepath.Join(dir, dbName)
	for _, p := range []string{db + "-wal", db + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return atomicfile.Write(db, func(w io.Writer) error {
		_, err := io.Copy(w, f)
		return err
	})
}
