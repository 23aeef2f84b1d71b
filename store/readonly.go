package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// openReadOnly opens a library Kata cannot write: the database read-only and
// immutable (SQLite then creates no -wal or -shm file and takes no locks), a
// shared lock on the lock file when it can be opened, no crash recovery, no
// migration. Every write fails with ErrReadOnly.
func openReadOnly(ctx context.Context, dir string) (_ *Library, err error) {
	l := &Library{dir: dir, writeErr: fmt.Errorf("%s: %w", dir, ErrReadOnly)}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if f, err := os.Open(filepath.Join(dir, lockName)); err == nil {
		l.lock = f
		if _, err := lockFile(l.lock, false, true); err != nil {
			return nil, fmt.Errorf("open library: lock: %w", err)
		}
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("immutable", "1")
	q.Add("_pragma", "foreign_keys(1)")
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(filepath.Join(dir, dbName)), RawQuery: q.Encode()}).String()
	if l.db, err = sql.Open("sqlite", dsn); err != nil {
		return nil, fmt.Errorf("open library database: %w", err)
	}
	var v int
	if err := l.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return nil, fmt.Errorf("open library database %s: %w", filepath.Join(dir, dbName), err)
	}
	if v != SchemaVersion {
		return nil, fmt.Errorf("open library %s: schema version %d, this Kata reads %d, and a read-only library cannot be upgraded", dir, v, SchemaVersion)
	}
	return l, nil
}
