package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Model is a base model known to the library: a diffusers folder or a
// single-file checkpoint on disk (Kata does not copy models into the library).
type Model struct {
	ID      int64
	Path    string // absolute path; unique
	Kind    string // e.g. "diffusers", "checkpoint", "builtin"
	Hash    string // the hash generations and identifiers record
	Name    string
	Created time.Time
}

// PutModel adds a model or, when its Path is known, updates Kind, Hash and Name.
func (l *Library) PutModel(ctx context.Context, m Model) (Model, error) {
	if m.Path == "" {
		return m, errors.New("put model: empty path")
	}
	m.Created = fromMillis(now())
	err := l.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO models(path, kind, hash, name, created) VALUES(?, ?, ?, ?, ?)
			ON CONFLICT(path) DO UPDATE SET kind = excluded.kind, hash = excluded.hash, name = excluded.name
			RETURNING id, created`, m.Path, m.Kind, m.Hash, m.Name, m.Created.UnixMilli()).Scan(&m.ID, new(int64))
	})
	if err != nil {
		return m, fmt.Errorf("put model %s: %w", m.Path, err)
	}
	return l.Model(ctx, m.ID)
}

const modelCols = `id, path, kind, hash, name, created`

func scanModel(s scanner) (Model, error) {
	var m Model
	var created int64
	err := s.Scan(&m.ID, &m.Path, &m.Kind, &m.Hash, &m.Name, &created)
	m.Created = fromMillis(created)
	return m, err
}

// Model returns the model with the given id.
func (l *Library) Model(ctx context.Context, id int64) (Model, error) {
	m, err := scanModel(l.db.QueryRowContext(ctx, `SELECT `+modelCols+` FROM models WHERE id = ?`, id))
	return m, notFound(err, "model", id)
}

// Models lists the known models by name.
func (l *Library) Models(ctx context.Context) ([]Model, error) {
	return queryAll(ctx, l.db, scanModel, `SELECT `+modelCols+` FROM models ORDER BY name, path`)
}

// DeleteModel forgets a model (its files on disk are left alone).
func (l *Library) DeleteModel(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "model", `DELETE FROM models WHERE id = ?`, id)
}
