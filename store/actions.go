package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"kata/model/placeholder"
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

// CreateAction adds an action; an empty Trigger becomes placeholder.For(Name),
// and a name that makes no trigger is an error.
func (l *Library) CreateAction(ctx context.Context, a Action) (Action, error) {
	a.Name = strings.TrimSpace(a.Name)
	if a.Name == "" {
		return a, errors.New("create action: empty name")
	}
	if a.Trigger == "" {
		var err error
		if a.Trigger, err = placeholder.For(a.Name); err != nil {
			return a, fmt.Errorf("create action: %w", err)
		}
	}
	a.Created = fromMillis(now())
	var err error
	a.ID, err = l.insert(ctx, fmt.Sprintf("action %q", a.Name), `INSERT INTO actions(name, trigger_token, notes, created) VALUES(?, ?, ?, ?)`,
		a.Name, a.Trigger, a.Notes, a.Created.UnixMilli())
	return a, err
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
