package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"kata/store/contenthash"
)

// Problem kinds found by Check and Repair.
const (
	ProblemDatabase    = "database"        // SQLite integrity or foreign-key check failed
	ProblemTempFile    = "temp-file"       // a write that never finished
	ProblemOrphanFile  = "orphan-file"     // a file without a row (moved to lost+found)
	ProblemMissingFile = "missing-file"    // a row whose file is gone (rows removed)
	ProblemCorruptFile = "corrupt-file"    // a file whose bytes do not match its hash (moved aside, rows removed)
	ProblemUnusedBlob  = "unused-blob"     // a file row nothing points at (removed)
	ProblemInterrupted = "interrupted-job" // a job left running by a process that stopped
)

// Problem is one inconsistency between the database and the files.
type Problem struct {
	Kind   string
	Path   string // file concerned, if any
	Detail string
	Fixed  bool
}

// String is the one-line form `kata library check` prints.
func (p Problem) String() string {
	s := p.Kind
	if p.Path != "" {
		s += " " + p.Path
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	if p.Fixed {
		s += " (repaired)"
	}
	return s
}

// Report lists what a check found.
type Report struct {
	Problems []Problem
	Blobs    int // files checked
}

// OK reports whether nothing is left unrepaired.
func (r Report) OK() bool {
	for _, p := range r.Problems {
		if !p.Fixed {
			return false
		}
	}
	return true
}

func (r *Report) add(kind, path, detail string, fixed bool) {
	r.Problems = append(r.Problems, Problem{Kind: kind, Path: path, Detail: detail, Fixed: fixed})
}

// Check verifies the library without changing it: SQLite's integrity and
// foreign-key checks, every file against its hash, files without rows and
// rows without files.
func (l *Library) Check(ctx context.Context) (Report, error) {
	return l.scan(ctx, true, false)
}

// Repair checks like Check and fixes what it finds: leftover temp files are
// removed, files without rows go to lost+found, rows whose file is missing or
// corrupt are removed, running jobs of dead processes become interrupted.
// It needs the library to itself and fails with ErrInUse otherwise.
func (l *Library) Repair(ctx context.Context) (Report, error) {
	return l.repair(ctx, true)
}

func (l *Library) repair(ctx context.Context, full bool) (Report, error) {
	if err := l.setLock(true); err != nil {
		return Report{}, err
	}
	defer l.setLock(false)
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	return l.scan(ctx, full, true)
}

// scan is Check (fix false) and Repair (fix true). full hashes every file;
// otherwise files are checked for presence and size only, as at open.
func (l *Library) scan(ctx context.Context, full, fix bool) (Report, error) {
	var rep Report
	if full {
		if err := l.checkDatabase(ctx, &rep); err != nil {
			return rep, err
		}
	}
	// Temp files.
	tmp := filepath.Join(l.dir, tmpDir)
	if ents, err := os.ReadDir(tmp); err == nil {
		for _, e := range ents {
			p := filepath.Join(tmp, e.Name())
			rep.add(ProblemTempFile, p, "", fix && os.RemoveAll(p) == nil)
		}
	}
	// Rows.
	type blobRow struct {
		size int64
		kind string
	}
	rows := map[string]blobRow{}
	err := func() error {
		r, err := l.db.QueryContext(ctx, `SELECT hash, size, kind FROM blobs`)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			var h string
			var b blobRow
			if err := r.Scan(&h, &b.size, &b.kind); err != nil {
				return err
			}
			rows[h] = b
		}
		return r.Err()
	}()
	if err != nil {
		return rep, fmt.Errorf("check: %w", err)
	}
	// Files without rows.
	root := filepath.Join(l.dir, blobsDir)
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		name := d.Name()
		if _, ok := rows[name]; ok && filepath.Dir(p) == filepath.Dir(l.BlobPath(name)) {
			seen[name] = true
			return nil
		}
		rep.add(ProblemOrphanFile, p, "no row refers to it", fix && l.moveToLostFound(p) == nil)
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("check files: %w", err)
	}
	// Rows without (good) files.
	var bad []string
	for h, b := range rows {
		p := l.BlobPath(h)
		rep.Blobs++
		if !seen[h] {
			rep.add(ProblemMissingFile, p, b.kind+" file is gone", fix)
			bad = append(bad, h)
			continue
		}
		problem := ""
		if st, err := os.Stat(p); err != nil {
			problem = err.Error()
		} else if st.Size() != b.size {
			problem = fmt.Sprintf("size %d, recorded %d", st.Size(), b.size)
		} else if full {
			if got, err := contenthash.File(p); err != nil {
				problem = err.Error()
			} else if got != h {
				problem = "content does not match its hash"
			}
		}
		if problem != "" {
			rep.add(ProblemCorruptFile, p, problem, fix && l.moveToLostFound(p) == nil)
			bad = append(bad, h)
		}
	}
	if fix {
		if err := l.dropBlobs(ctx, bad, &rep); err != nil {
			return rep, fmt.Errorf("repair: %w", err)
		}
		n, err := l.db.ExecContext(ctx, `UPDATE jobs SET state = ?, updated = ? WHERE state = ?`, JobInterrupted, now(), JobRunning)
		if err != nil {
			return rep, fmt.Errorf("repair jobs: %w", err)
		}
		if k, _ := n.RowsAffected(); k > 0 {
			rep.add(ProblemInterrupted, "", fmt.Sprintf("%d running job(s) marked interrupted", k), true)
		}
	}
	return rep, nil
}

// dropBlobs removes the rows of blobs whose files are lost, with every row
// pointing at them, then any blob no row uses.
func (l *Library) dropBlobs(ctx context.Context, hashes []string, rep *Report) error {
	var unused []string
	err := l.tx(ctx, func(tx *sql.Tx) error {
		for _, h := range hashes {
			for _, r := range blobRefs {
				if _, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE %s = ?`, r.table, r.column), h); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE hash = ?`, h); err != nil {
				return err
			}
		}
		var err error
		unused, err = dropUnusedBlobs(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	for _, h := range unused {
		rep.add(ProblemUnusedBlob, l.BlobPath(h), "", true)
	}
	return l.removeUnused(ctx, unused)
}

func (l *Library) checkDatabase(ctx context.Context, rep *Report) error {
	r, err := l.db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	var msgs []string
	for r.Next() {
		var m string
		if err := r.Scan(&m); err == nil && m != "ok" {
			msgs = append(msgs, m)
		}
	}
	r.Close()
	if len(msgs) > 0 {
		rep.add(ProblemDatabase, filepath.Join(l.dir, dbName), strings.Join(msgs, "; "), false)
	}
	r, err = l.db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return fmt.Errorf("foreign key check: %w", err)
	}
	defer r.Close()
	for r.Next() {
		var table, parent string
		var rowid, fkid sql.NullInt64
		if err := r.Scan(&table, &rowid, &parent, &fkid); err == nil {
			rep.add(ProblemDatabase, filepath.Join(l.dir, dbName),
				fmt.Sprintf("row %d of %s points at a missing %s row", rowid.Int64, table, parent), false)
		}
	}
	return r.Err()
}

func (l *Library) moveToLostFound(p string) error {
	dst := filepath.Join(l.dir, lostFoundDir)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	return os.Rename(p, filepath.Join(dst, filepath.Base(p)))
}

// Counts is what `kata library info` prints.
type Counts struct {
	Actions, Exemplars, Identifiers, Versions, Subjects, Generations, Favourites, Models, Jobs, Files int
	Bytes                                                                                             int64 // total size of the stored files
}

// Counts returns how many of each thing the library holds.
func (l *Library) Counts(ctx context.Context) (Counts, error) {
	var c Counts
	err := l.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM actions), (SELECT count(*) FROM exemplars), (SELECT count(*) FROM identifiers),
		(SELECT count(*) FROM identifier_versions), (SELECT count(*) FROM subjects), (SELECT count(*) FROM generations),
		(SELECT count(*) FROM generations WHERE favourite), (SELECT count(*) FROM models), (SELECT count(*) FROM jobs),
		(SELECT count(*) FROM blobs), (SELECT coalesce(sum(size), 0) FROM blobs)`).Scan(
		&c.Actions, &c.Exemplars, &c.Identifiers, &c.Versions, &c.Subjects, &c.Generations, &c.Favourites, &c.Models,
		&c.Jobs, &c.Files, &c.Bytes)
	if err != nil {
		return c, fmt.Errorf("count library: %w", err)
	}
	return c, nil
}
