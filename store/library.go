package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

// Library is an open library directory. Its methods are safe for concurrent use.
type Library struct {
	dir  string
	db   *sql.DB
	lock *os.File

	mu     sync.Mutex // guards lockEx
	lockEx bool

	// writeMu orders the file-then-row writes and row-then-file deletes of
	// this process, so a delete never removes a file an add is committing.
	writeMu sync.Mutex

	openReport Report
	closed     bool
}

// Sub-paths of a library directory.
const (
	dbName       = "kata.db"
	blobsDir     = "blobs"
	tmpDir       = "tmp"
	lostFoundDir = "lost+found"
	lockName     = "lock"
)

// Open opens the library in dir, creating it when absent, upgrading its
// schema, and repairing what a crash may have left when no other process has
// it open (see Repair and OpenReport).
func Open(dir string) (*Library, error) {
	return OpenContext(context.Background(), dir)
}

// OpenContext is Open with a context for the migration and repair work.
func OpenContext(ctx context.Context, dir string) (_ *Library, err error) {
	if dir == "" {
		return nil, errors.New("open library: empty directory name")
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open library %s: %w", dir, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, blobsDir), filepath.Join(dir, tmpDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("open library: %w", err)
		}
	}
	l := &Library{dir: dir}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.lock, err = os.OpenFile(filepath.Join(dir, lockName), os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		return nil, fmt.Errorf("open library: %w", err)
	}
	// Exclusive while migrating and repairing if nobody else has the library
	// open; otherwise wait for a shared lock and leave repair to a lone opener.
	alone, err := lockFile(l.lock, true, false)
	if err != nil {
		return nil, fmt.Errorf("open library: lock: %w", err)
	}
	if !alone {
		if _, err := lockFile(l.lock, false, true); err != nil {
			return nil, fmt.Errorf("open library: lock: %w", err)
		}
	}
	l.lockEx = alone

	q := url.Values{}
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, dbName)), RawQuery: q.Encode()}).String()
	if l.db, err = sql.Open("sqlite", dsn); err != nil {
		return nil, fmt.Errorf("open library database: %w", err)
	}
	if err := l.db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("open library database %s: %w", filepath.Join(dir, dbName), err)
	}
	if _, err := migrate(ctx, l.db, SchemaVersion); err != nil {
		return nil, fmt.Errorf("open library %s: %w", dir, err)
	}
	if alone {
		rep, err := l.repair(ctx, false)
		if err != nil {
			return nil, fmt.Errorf("open library %s: repair: %w", dir, err)
		}
		l.openReport = rep
		if err := l.setLock(false); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// setLock switches the process's lock on the library between shared and
// exclusive. Going exclusive does not wait: it fails with ErrInUse.
func (l *Library) setLock(exclusive bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lockEx == exclusive {
		return nil
	}
	// Not every OS converts a held lock, so drop it and take the other kind.
	if err := unlockFile(l.lock); err != nil {
		return fmt.Errorf("library lock: %w", err)
	}
	ok, err := lockFile(l.lock, exclusive, !exclusive)
	if err == nil && !ok {
		_, err = lockFile(l.lock, false, true)
		if err == nil {
			err = ErrInUse
		}
	}
	if err != nil {
		return fmt.Errorf("library lock: %w", err)
	}
	l.lockEx = exclusive
	return nil
}

// ErrInUse is returned by operations that need the library to themselves
// (Repair) while another process has it open.
var ErrInUse = errors.New("library is open in another Kata process")

// Close checkpoints the write-ahead log and releases the library. Later
// calls on l fail with an error (they do not panic); a second Close is a no-op.
func (l *Library) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.db != nil {
		l.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		err = l.db.Close()
	}
	if l.lock != nil {
		unlockFile(l.lock)
		if e := l.lock.Close(); err == nil {
			err = e
		}
		l.lock = nil
	}
	return err
}

// Dir is the library's absolute directory.
func (l *Library) Dir() string { return l.dir }

// OpenReport is what Open found and repaired (empty when another process had
// the library open and repair was skipped).
func (l *Library) OpenReport() Report { return l.openReport }

// DB exposes the database for read-only queries the store API lacks; writes
// must go through the Library methods to keep files and rows consistent.
func (l *Library) DB() *sql.DB { return l.db }

func now() int64 { return time.Now().UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms) }

// tx runs fn in one write transaction.
func (l *Library) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
