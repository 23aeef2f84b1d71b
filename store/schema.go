package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Row ids use AUTOINCREMENT so that an id is never reused after a delete: the
// window and the job queue may still hold the id of something just deleted.
//
// migrations[i] upgrades a library from schema version i to i+1. The version
// lives in SQLite's user_version. Released entries never change: a new schema
// is a new entry, so any older library upgrades step by step on open.
var migrations = []string{
	// 1: the first release.
	`
CREATE TABLE blobs (
	hash    TEXT PRIMARY KEY,          -- sha256 hex of the file bytes
	size    INTEGER NOT NULL,
	kind    TEXT NOT NULL,             -- png, safetensors, ...
	created INTEGER NOT NULL           -- unix milliseconds
) WITHOUT ROWID;
CREATE TABLE actions (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	name    TEXT NOT NULL UNIQUE,
	trigger_token TEXT NOT NULL,
	notes   TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL
);
CREATE TABLE exemplars (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	action_id   INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
	image       TEXT NOT NULL REFERENCES blobs(hash),
	caption     TEXT NOT NULL DEFAULT '',
	crop_x      INTEGER NOT NULL DEFAULT 0,
	crop_y      INTEGER NOT NULL DEFAULT 0,
	crop_w      INTEGER NOT NULL DEFAULT 0,
	crop_h      INTEGER NOT NULL DEFAULT 0,
	source_path TEXT NOT NULL DEFAULT '',
	created     INTEGER NOT NULL,
	UNIQUE (action_id, image)
);
CREATE INDEX exemplars_image ON exemplars(image);
CREATE TABLE subjects (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	name    TEXT NOT NULL UNIQUE,
	prompt  TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE models (
	id      INTEGER PRIMARY KEY AUTOINCREMENT,
	path    TEXT NOT NULL UNIQUE,
	kind    TEXT NOT NULL,
	hash    TEXT NOT NULL DEFAULT '',
	name    TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL
);
CREATE TABLE identifiers (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	action_id       INTEGER NOT NULL REFERENCES actions(id) ON DELETE CASCADE,
	name            TEXT NOT NULL,
	method          TEXT NOT NULL,
	base_model_hash TEXT NOT NULL DEFAULT '',
	created         INTEGER NOT NULL
);
CREATE TABLE identifier_versions (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	identifier_id INTEGER NOT NULL REFERENCES identifiers(id) ON DELETE CASCADE,
	version       INTEGER NOT NULL,
	file          TEXT NOT NULL REFERENCES blobs(hash),
	params        TEXT NOT NULL DEFAULT '{}',  -- JSON object of hyper-parameters
	metrics       TEXT NOT NULL DEFAULT '{}',  -- JSON object name -> number
	created       INTEGER NOT NULL,
	UNIQUE (identifier_id, version)
);
CREATE INDEX identifier_versions_file ON identifier_versions(file);
CREATE TABLE generations (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	prompt     TEXT NOT NULL,
	negative   TEXT NOT NULL DEFAULT '',
	seed       INTEGER NOT NULL,
	sampler    TEXT NOT NULL DEFAULT '',
	steps      INTEGER NOT NULL,
	cfg        REAL NOT NULL,
	width      INTEGER NOT NULL,
	height     INTEGER NOT NULL,
	model_hash TEXT NOT NULL DEFAULT '',
	image      TEXT NOT NULL REFERENCES blobs(hash),
	favourite  INTEGER NOT NULL DEFAULT 0,
	subject_id INTEGER REFERENCES subjects(id) ON DELETE SET NULL,
	action_id  INTEGER REFERENCES actions(id) ON DELETE SET NULL,
	created    INTEGER NOT NULL
);
CREATE INDEX generations_image ON generations(image);
CREATE TABLE generation_identifiers (
	generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
	version_id    INTEGER NOT NULL REFERENCES identifier_versions(id) ON DELETE CASCADE,
	PRIMARY KEY (generation_id, version_id)
) WITHOUT ROWID;
`,
	// 2: background jobs (train, generate, export) that resume after a restart,
	// and img2img strength on generations.
	`
CREATE TABLE jobs (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	kind       TEXT NOT NULL,
	state      TEXT NOT NULL,
	progress   REAL NOT NULL DEFAULT 0,
	params     TEXT NOT NULL DEFAULT '{}',
	checkpoint TEXT NOT NULL DEFAULT '',
	error      TEXT NOT NULL DEFAULT '',
	created    INTEGER NOT NULL,
	updated    INTEGER NOT NULL
);
CREATE INDEX jobs_state ON jobs(state);
ALTER TABLE generations ADD COLUMN strength REAL NOT NULL DEFAULT 0;
CREATE INDEX generations_created ON generations(created);
`,
}

// SchemaVersion is the schema this build of Kata writes.
var SchemaVersion = len(migrations)

// migrate brings db from its user_version up to want, one transaction per step.
func migrate(ctx context.Context, db *sql.DB, want int) (from int, err error) {
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&from); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if from > len(migrations) {
		return from, fmt.Errorf("library schema version %d is newer than this Kata understands (%d): update Kata", from, len(migrations))
	}
	for v := from; v < want; v++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return from, err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return from, fmt.Errorf("migrate schema %d -> %d: %w", v, v+1, err)
		}
		// PRAGMA takes no bound parameters; v is an int.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return from, err
		}
		if err := tx.Commit(); err != nil {
			return from, fmt.Errorf("migrate schema %d -> %d: %w", v, v+1, err)
		}
	}
	return from, nil
}
