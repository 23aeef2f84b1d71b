package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kata/store/atomicfile"
	"kata/store/contenthash"
)

// Blob kinds recorded with each file (they pick the extension on export).
const (
	KindPNG         = "png"
	KindSafetensors = "safetensors"
)

// BlobPath returns where the file with the given sha256 hex digest lives.
func (l *Library) BlobPath(hash string) string {
	if len(hash) < 2 {
		return filepath.Join(l.dir, blobsDir, "_", hash)
	}
	return filepath.Join(l.dir, blobsDir, hash[:2], hash)
}

// ReadBlob returns the bytes of a stored file.
func (l *Library) ReadBlob(hash string) ([]byte, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("read blob: bad hash %q", hash)
	}
	b, err := os.ReadFile(l.BlobPath(hash))
	if err != nil {
		return nil, fmt.Errorf("read blob: %w", err)
	}
	return b, nil
}

func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// putFile writes data under its hash (atomically, durably) and returns the
// hash. A file already present with the right size is kept: same bytes.
func (l *Library) putFile(data []byte) (string, error) {
	hash := contenthash.Bytes(data)
	path := l.BlobPath(hash)
	if st, err := os.Stat(path); err == nil && st.Size() == int64(len(data)) {
		return hash, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := l.writeAtomic(path, bytes.NewReader(data)); err != nil {
		return "", fmt.Errorf("store file %s: %w", hash, err)
	}
	return hash, nil
}

// writeAtomic writes r to path so that path holds either its old content or
// all of r, even across a crash or power loss (atomicfile, with the temp file
// in the library's tmp/ on the same file system).
func (l *Library) writeAtomic(path string, r io.Reader) error {
	return atomicfile.WriteVia(filepath.Join(l.dir, tmpDir), path, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

func insertBlob(ctx context.Context, tx *sql.Tx, hash string, size int, kind string) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO blobs(hash, size, kind, created) VALUES(?, ?, ?, ?) ON CONFLICT(hash) DO NOTHING`,
		hash, size, kind, now())
	return err
}

// blobRefs lists every column that points at a blob.
var blobRefs = []struct{ table, column string }{
	{"exemplars", "image"},
	{"generations", "image"},
	{"identifier_versions", "file"},
}

// dropUnusedBlobs deletes blob rows nothing points at (in the caller's
// transaction) and returns their hashes; the caller removes the files after
// commit. A crash in between leaves files without rows, which repair handles.
func dropUnusedBlobs(ctx context.Context, tx *sql.Tx) ([]string, error) {
	q := `SELECT hash FROM blobs b WHERE 1`
	for _, r := range blobRefs {
		q += fmt.Sprintf(` AND NOT EXISTS (SELECT 1 FROM %s t WHERE t.%s = b.hash)`, r.table, r.column)
	}
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	var hashes []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return nil, err
		}
		hashes = append(hashes, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE hash = ?`, h); err != nil {
			return nil, err
		}
	}
	return hashes, nil
}

// addWithBlob stores data as a file, then in one transaction records the blob
// and runs fn (which inserts the rows that point at it). When the transaction
// fails the file is removed again unless a row already used it.
//
// Another process may delete the last row using the same bytes meanwhile and
// remove the file; that removal runs inside a write transaction (see
// removeUnused), so checking for the file inside this one, and writing it
// again when gone, closes the race.
func (l *Library) addWithBlob(ctx context.Context, data []byte, kind string, fn func(tx *sql.Tx, hash string) error) (string, error) {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	hash, err := l.putFile(data)
	if err != nil {
		return "", err
	}
	if testHookAfterFile != nil {
		testHookAfterFile()
	}
	err = l.tx(ctx, func(tx *sql.Tx) error {
		if err := insertBlob(ctx, tx, hash, len(data), kind); err != nil {
			return err
		}
		if _, err := l.putFile(data); err != nil {
			return err
		}
		return fn(tx, hash)
	})
	if err != nil {
		var n int
		if l.db.QueryRowContext(context.WithoutCancel(ctx), `SELECT count(*) FROM blobs WHERE hash = ?`, hash).Scan(&n) == nil && n == 0 {
			os.Remove(l.BlobPath(hash))
		}
		return "", err
	}
	return hash, nil
}

// deleteWithBlobs runs a delete in one transaction, then drops blobs nothing
// uses any more, rows and files.
func (l *Library) deleteWithBlobs(ctx context.Context, fn func(*sql.Tx) error) error {
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	var gone []string
	err := l.tx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		var err error
		gone, err = dropUnusedBlobs(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	if testHookAfterFile != nil {
		testHookAfterFile()
	}
	return l.removeUnused(context.WithoutCancel(ctx), gone)
}

// removeUnused deletes the files of blobs whose rows are gone, inside a write
// transaction so that no other process can be recording the same hash again
// at that moment; a hash that got a row meanwhile keeps its file.
func (l *Library) removeUnused(ctx context.Context, hashes []string) error {
	if len(hashes) == 0 {
		return nil
	}
	return l.tx(ctx, func(tx *sql.Tx) error {
		for _, h := range hashes {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM blobs WHERE hash = ?`, h).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				os.Remove(l.BlobPath(h))
			}
		}
		return nil
	})
}

// testHookAfterFile, when set by a test, runs between a file write and its
// row commit (and between a row delete and its file removal): the crash test
// widens those windows with it so that kills land there.
var testHookAfterFile func()
