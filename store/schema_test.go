package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"kata/store/contenthash"
)

// TestMigrateOldLibrary builds a library at schema 1 (the first release),
// fills it the way that release did, and opens it with the current code.
func TestMigrateOldLibrary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, dbName)+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate(ctx, db, 1); err != nil {
		t.Fatal(err)
	}
	hash := contenthash.Bytes(nil)
	for _, q := range []string{
		`INSERT INTO actions(id, name, trigger_token, created) VALUES(1, 'pray', '<pray>', 1)`,
		`INSERT INTO blobs(hash, size, kind, created) VALUES('` + hash + `', 0, 'png', 1)`,
		`INSERT INTO generations(id, prompt, seed, steps, cfg, width, height, image, action_id, created)
			VALUES(5, 'a cat <pray>', 42, 20, 7.5, 64, 64, '` + hash + `', 1, 2)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var v int
	l.DB().QueryRow(`PRAGMA user_version`).Scan(&v)
	if v != SchemaVersion || SchemaVersion < 2 {
		t.Fatalf("schema %d after open, want %d", v, SchemaVersion)
	}
	// The generation's file was missing (the old library is handmade), so
	// open removed it; the action survives with its fields.
	if a, err := l.Action(ctx, 1); err != nil || a.Trigger != "<pray>" {
		t.Errorf("action after upgrade %+v %v", a, err)
	}
	// Rows written by schema 1 read back with the new column's default.
	l.DB().Exec(`INSERT INTO blobs(hash, size, kind, created) VALUES(?, 0, 'png', 1)`, hash)
	if _, err := l.DB().Exec(`INSERT INTO generations(id, prompt, seed, steps, cfg, width, height, image, created)
		VALUES(6, 'x', 1, 1, 1, 8, 8, ?, 3)`, hash); err != nil {
		t.Fatal(err)
	}
	if g, err := l.Generation(ctx, 6); err != nil || g.Strength != 0 || g.Seed != 1 {
		t.Errorf("generation %+v %v", g, err)
	}
	if _, err := l.CreateJob(ctx, Job{Kind: "train"}); err != nil {
		t.Errorf("jobs table missing after upgrade: %v", err)
	}
}

func TestNewerLibraryRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l.DB().Exec(`PRAGMA user_version = 99`)
	l.Close()
	if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("open of a newer library: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(EnvLibrary, "/tmp/kata-lib")
	if d, _ := DefaultDir(); d != "/tmp/kata-lib" {
		t.Errorf("KATA_LIBRARY ignored: %s", d)
	}
	t.Setenv(EnvLibrary, "")
	t.Setenv("XDG_DATA_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if runtime.GOOS != "linux" {
		t.Skip("XDG paths are for Linux")
	}
	if d, _ := DefaultDir(); d != "/xdg/kata" {
		t.Errorf("with XDG_DATA_HOME: %s", d)
	}
	t.Setenv("XDG_DATA_HOME", "")
	if d, _ := DefaultDir(); d != "/home/u/.local/share/kata" {
		t.Errorf("without XDG_DATA_HOME: %s", d)
	}
}
