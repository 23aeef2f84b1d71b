package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrNoBlobs is returned (wrapped, with the folder's path) by Open when a
// library's database exists but its blobs folder does not: a copy made
// without it, an unfinished sync, a drive not fully mounted. Nothing is
// changed; putting the folder back makes the library whole again.
var ErrNoBlobs = errors.New("the library's blobs folder is missing")

// ErrDamaged is returned (wrapped) by every write to a library whose
// database failed SQLite's quick check at open.
var ErrDamaged = errors.New("the library database is damaged; it is open for reading only (run kata library check)")

// ErrReadOnly is returned (wrapped) by every write to a library opened from
// a folder Kata cannot write (a read-only medium, a folder without write
// permission): it can be browsed, not changed.
var ErrReadOnly = errors.New("the library is on a read-only medium or folder; it is open for reading only")

// testHookReadOnly makes prepareDir treat an existing library as unwritable.
var testHookReadOnly bool

// prepareDir creates a new library's folders, or checks an existing one's.
// readOnly reports an existing library whose folder Kata cannot write.
func prepareDir(dir string) (readOnly bool, err error) {
	_, err = os.Stat(filepath.Join(dir, dbName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		for _, d := range []string{dir, filepath.Join(dir, blobsDir), filepath.Join(dir, tmpDir)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return false, fmt.Errorf("create library: %w", err)
			}
		}
		return false, nil
	case err != nil:
		return false, fmt.Errorf("open library: %w", err)
	}
	blobs := filepath.Join(dir, blobsDir)
	if st, err := os.Stat(blobs); err != nil || !st.IsDir() {
		return false, fmt.Errorf("open library %s: %w (%s); nothing was changed — put the folder back, or move %s away to start a new library",
			dir, ErrNoBlobs, blobs, filepath.Join(dir, dbName))
	}
	if testHookReadOnly {
		return true, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o755); err != nil {
		if isReadOnly(err) {
			return true, nil
		}
		return false, fmt.Errorf("open library: %w", err)
	}
	// The folder may exist and still refuse new files.
	probe, err := os.CreateTemp(filepath.Join(dir, tmpDir), ".probe-*")
	if err != nil {
		if isReadOnly(err) {
			return true, nil
		}
		return false, fmt.Errorf("open library: %w", err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return false, nil
}

// isReadOnly reports whether err says the file system or folder refuses writes.
func isReadOnly(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
}

// WriteErr says why the library refuses writes (it wraps ErrDamaged), or is
// nil when it takes them.
func (l *Library) WriteErr() error { return l.writeErr }

// quickCheck runs SQLite's quick check. A database that is not one at all is
// an error; one with damaged pages gives the reason writes are refused.
func (l *Library) quickCheck(ctx context.Context) (writeErr, err error) {
	r, err := l.db.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", filepath.Join(l.dir, dbName), err)
	}
	defer r.Close()
	var msgs []string
	for r.Next() {
		var m string
		if err := r.Scan(&m); err != nil {
			return nil, fmt.Errorf("database %s: %w", filepath.Join(l.dir, dbName), err)
		}
		if m != "ok" && len(msgs) < 3 {
			msgs = append(msgs, m)
		}
	}
	if err := r.Err(); err != nil {
		msgs = append(msgs, err.Error())
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%w: %s", ErrDamaged, strings.Join(msgs, "; ")), nil
	}
	return nil, nil
}

// recoverCrash clears what only Kata itself leaves behind when a process
// stops mid-write: files in tmp/ (writes that never reached their rename)
// and jobs still marked running. It runs at open when no other process has
// the library, and never touches a row or a stored file.
func (l *Library) recoverCrash(ctx context.Context) (Report, error) {
	var rep Report
	tmp := filepath.Join(l.dir, tmpDir)
	if ents, err := os.ReadDir(tmp); err == nil {
		for _, e := range ents {
			p := filepath.Join(tmp, e.Name())
			rep.add(ProblemTempFile, p, "", os.RemoveAll(p) == nil)
		}
	}
	if err := l.markInterrupted(ctx, &rep); err != nil {
		return rep, err
	}
	return rep, nil
}

// markInterrupted marks jobs still running (by a process that stopped) as
// interrupted, so they can be resumed.
func (l *Library) markInterrupted(ctx context.Context, rep *Report) error {
	n, err := l.db.ExecContext(ctx, `UPDATE jobs SET state = ?, updated = ? WHERE state = ?`, JobInterrupted, now(), JobRunning)
	if err != nil {
		return fmt.Errorf("mark interrupted jobs: %w", err)
	}
	if k, _ := n.RowsAffected(); k > 0 {
		rep.add(ProblemInterrupted, "", fmt.Sprintf("%d running job(s) marked interrupted", k), true)
	}
	return nil
}
