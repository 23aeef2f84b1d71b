package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrNotFound is returned (wrapped) when a row asked for by id or name is absent.
var ErrNotFound = errors.New("not found")

// ErrDuplicate is returned (wrapped) when an add would store what is already there.
var ErrDuplicate = errors.New("already in the library")

// Action is something people do in photos (handstand, salute) that Kata learns.
type Action struct {
	ID      int64
	Name    string // unique, e.g. "handstand"
	Trigger string // token used in prompts, e.g. "<handstand>"
	Notes   string
	Created time.Time
}

// DefaultTrigger is the trigger token of an action named name: "<name>".
func DefaultTrigger(name string) string { return "<" + strings.Join(strings.Fields(name), "-") + ">" }

// CreateAction adds an action; an empty Trigger becomes DefaultTrigger(Name).
func (l *Library) CreateAction(ctx context.Context, a Action) (Action, error) {
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		return a, errors.New("create action: empty name")
	}
	if a.Trigger == "" {
		a.Trigger = DefaultTrigger(a.Name)
	}
	a.Created = fromMillis(now())
	err := l.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO actions(name, trigger_token, notes, created) VALUES(?, ?, ?, ?)`,
			a.Name, a.Trigger, a.Notes, a.Created.UnixMilli())
		if err != nil {
			return err
		}
		a.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if isUnique(err) {
			return a, fmt.Errorf("create action %q: %w", a.Name, ErrDuplicate)
		}
		return a, fmt.Errorf("create action %q: %w", a.Name, err)
	}
	return a, nil
}

const actionCols = `id, name, trigger_token, notes, created`

func scanAction(s scanner) (Action, error) {
	var a Action
	var created int64
	err := s.Scan(&a.ID, &a.Name, &a.Trigger, &a.Notes, &created)
	a.Created = fromMillis(created)
	return a, err
}

// Action returns the action with the given id.
func (l *Library) Action(ctx context.Context, id int64) (Action, error) {
	a, err := scanAction(l.db.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions WHERE id = ?`, id))
	return a, notFound(err, "action", id)
}

// ActionByName returns the action with the given name.
func (l *Library) ActionByName(ctx context.Context, name string) (Action, error) {
	a, err := scanAction(l.db.QueryRowContext(ctx, `SELECT `+actionCols+` FROM actions WHERE name = ?`, strings.TrimSpace(name)))
	return a, notFound(err, "action", name)
}

// Actions lists all actions by name.
func (l *Library) Actions(ctx context.Context) ([]Action, error) {
	return queryAll(ctx, l.db, scanAction, `SELECT `+actionCols+` FROM actions ORDER BY name`)
}

// UpdateAction saves Name, Trigger and Notes of an existing action.
func (l *Library) UpdateAction(ctx context.Context, a Action) error {
	return l.update(ctx, "action", a.ID, `UPDATE actions SET name = ?, trigger_token = ?, notes = ? WHERE id = ?`,
		strings.TrimSpace(a.Name), a.Trigger, a.Notes, a.ID)
}

// DeleteAction removes an action with its exemplars and identifiers (their
// files too when nothing else uses them); generations keep their images and
// lose the link.
func (l *Library) DeleteAction(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "action", `DELETE FROM actions WHERE id = ?`, id)
}

// Subject is a reusable description of who performs an action ("a panda",
// "our mascot in a red cape").
type Subject struct {
	ID      int64
	Name    string // unique label shown in the gallery and on contact sheets
	Prompt  string // text put before the action trigger
	Created time.Time
}

// CreateSubject adds a subject.
func (l *Library) CreateSubject(ctx context.Context, s Subject) (Subject, error) {
	s.Name = strings.TrimSpace(s.Name)
	if s.Name == "" {
		return s, errors.New("create subject: empty name")
	}
	if s.Prompt == "" {
		s.Prompt = s.Name
	}
	s.Created = fromMillis(now())
	err := l.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO subjects(name, prompt, created) VALUES(?, ?, ?)`, s.Name, s.Prompt, s.Created.UnixMilli())
		if err != nil {
			return err
		}
		s.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if isUnique(err) {
			return s, fmt.Errorf("create subject %q: %w", s.Name, ErrDuplicate)
		}
		return s, fmt.Errorf("create subject %q: %w", s.Name, err)
	}
	return s, nil
}

const subjectCols = `id, name, prompt, created`

func scanSubject(sc scanner) (Subject, error) {
	var s Subject
	var created int64
	err := sc.Scan(&s.ID, &s.Name, &s.Prompt, &created)
	s.Created = fromMillis(created)
	return s, err
}

// Subject returns the subject with the given id.
func (l *Library) Subject(ctx context.Context, id int64) (Subject, error) {
	s, err := scanSubject(l.db.QueryRowContext(ctx, `SELECT `+subjectCols+` FROM subjects WHERE id = ?`, id))
	return s, notFound(err, "subject", id)
}

// Subjects lists all subjects by name.
func (l *Library) Subjects(ctx context.Context) ([]Subject, error) {
	return queryAll(ctx, l.db, scanSubject, `SELECT `+subjectCols+` FROM subjects ORDER BY name`)
}

// UpdateSubject saves Name and Prompt of an existing subject.
func (l *Library) UpdateSubject(ctx context.Context, s Subject) error {
	return l.update(ctx, "subject", s.ID, `UPDATE subjects SET name = ?, prompt = ? WHERE id = ?`, strings.TrimSpace(s.Name), s.Prompt, s.ID)
}

// DeleteSubject removes a subject; its generations stay, unlinked.
func (l *Library) DeleteSubject(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "subject", `DELETE FROM subjects WHERE id = ?`, id)
}

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
