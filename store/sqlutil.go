package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

type scanner interface{ Scan(dest ...any) error }

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func notFound(err error, what string, key any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s %v: %w", what, key, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s %v: %w", what, key, err)
	}
	return nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// insert runs one INSERT in its own transaction and returns the new row's
// id; a unique-constraint failure is ErrDuplicate. Errors read
// "create <what>: ...".
func (l *Library) insert(ctx context.Context, what, query string, args ...any) (int64, error) {
	var id int64
	err := l.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		id, err = res.LastInsertId()
		return err
	})
	if isUnique(err) {
		err = ErrDuplicate
	}
	if err != nil {
		return 0, fmt.Errorf("create %s: %w", what, err)
	}
	return id, nil
}

// update runs one UPDATE and reports ErrNotFound when it touched no row.
func (l *Library) update(ctx context.Context, what string, id int64, query string, args ...any) error {
	err := l.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if isUnique(err) {
		err = ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("update %s %d: %w", what, id, err)
	}
	return nil
}

// deleteRow deletes by id, then files nothing uses any more.
func (l *Library) deleteRow(ctx context.Context, what, query string, id int64) error {
	err := l.deleteWithBlobs(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete %s %d: %w", what, id, err)
	}
	return nil
}
