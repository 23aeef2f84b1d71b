package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Identifier is a learned action identifier (see model/adi): which action,
// how it was learned and for which base model. Its files live in versions:
// every training run (or resumed run) adds one.
type Identifier struct {
	ID            int64
	ActionID      int64
	Name          string // shown to the user; defaults to the action's name
	Method        string // "adi", "ti", "pplus", ...
	BaseModelHash string
	Created       time.Time
}

// IdentifierVersion is one stored identifier file with what produced it.
type IdentifierVersion struct {
	ID           int64
	IdentifierID int64
	Version      int                // 1, 2, ... per identifier
	File         string             // sha256 of the .safetensors file
	Params       map[string]any     // hyper-parameters (steps, lr, ...)
	Metrics      map[string]float64 // e.g. loss, action accuracy
	Created      time.Time
}

// CreateIdentifier adds an identifier without versions.
func (l *Library) CreateIdentifier(ctx context.Context, id Identifier) (Identifier, error) {
	if id.Method == "" {
		return id, errors.New("create identifier: empty method")
	}
	if id.Name == "" {
		a, err := l.Action(ctx, id.ActionID)
		if err != nil {
			return id, fmt.Errorf("create identifier: %w", err)
		}
		id.Name = a.Name
	}
	id.Created = fromMillis(now())
	var err error
	id.ID, err = l.insert(ctx, fmt.Sprintf("identifier %q", id.Name), `INSERT INTO identifiers(action_id, name, method, base_model_hash, created) VALUES(?, ?, ?, ?, ?)`,
		id.ActionID, id.Name, id.Method, id.BaseModelHash, id.Created.UnixMilli())
	return id, err
}

const identifierCols = `id, action_id, name, method, base_model_hash, created`

func scanIdentifier(s scanner) (Identifier, error) {
	var id Identifier
	var created int64
	err := s.Scan(&id.ID, &id.ActionID, &id.Name, &id.Method, &id.BaseModelHash, &created)
	id.Created = fromMillis(created)
	return id, err
}

// Identifier returns the identifier with the given id.
func (l *Library) Identifier(ctx context.Context, id int64) (Identifier, error) {
	v, err := scanIdentifier(l.db.QueryRowContext(ctx, `SELECT `+identifierCols+` FROM identifiers WHERE id = ?`, id))
	return v, notFound(err, "identifier", id)
}

// Identifiers lists the identifiers of an action (all for actionID 0).
func (l *Library) Identifiers(ctx context.Context, actionID int64) ([]Identifier, error) {
	if actionID == 0 {
		return queryAll(ctx, l.db, scanIdentifier, `SELECT `+identifierCols+` FROM identifiers ORDER BY id`)
	}
	return queryAll(ctx, l.db, scanIdentifier, `SELECT `+identifierCols+` FROM identifiers WHERE action_id = ? ORDER BY id`, actionID)
}

// UpdateIdentifier saves Name, Method and BaseModelHash.
func (l *Library) UpdateIdentifier(ctx context.Context, id Identifier) error {
	return l.update(ctx, "identifier", id.ID, `UPDATE identifiers SET name = ?, method = ?, base_model_hash = ? WHERE id = ?`,
		id.Name, id.Method, id.BaseModelHash, id.ID)
}

// DeleteIdentifier removes an identifier with all its versions and files.
func (l *Library) DeleteIdentifier(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "identifier", `DELETE FROM identifiers WHERE id = ?`, id)
}

// AddIdentifierVersion stores the identifier file (the bytes of a
// .safetensors file) as the next version of identifier v.IdentifierID.
func (l *Library) AddIdentifierVersion(ctx context.Context, v IdentifierVersion, file []byte) (IdentifierVersion, error) {
	params, err := json.Marshal(nonNil(v.Params))
	if err != nil {
		return v, fmt.Errorf("add identifier version: params: %w", err)
	}
	metrics, err := json.Marshal(nonNilF(v.Metrics))
	if err != nil {
		return v, fmt.Errorf("add identifier version: metrics: %w", err)
	}
	v.Created = fromMillis(now())
	v.File, err = l.addWithBlob(ctx, file, KindSafetensors, func(tx *sql.Tx, hash string) error {
		return tx.QueryRowContext(ctx, `INSERT INTO identifier_versions(identifier_id, version, file, params, metrics, created)
			VALUES(?, (SELECT coalesce(max(version), 0) + 1 FROM identifier_versions WHERE identifier_id = ?), ?, ?, ?, ?)
			RETURNING id, version`, v.IdentifierID, v.IdentifierID, hash, params, metrics, v.Created.UnixMilli()).Scan(&v.ID, &v.Version)
	})
	if err != nil {
		return v, fmt.Errorf("add version of identifier %d: %w", v.IdentifierID, err)
	}
	return v, nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nonNilF(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{}
	}
	return m
}

const versionCols = `id, identifier_id, version, file, params, metrics, created`

func scanVersion(s scanner) (IdentifierVersion, error) {
	var v IdentifierVersion
	var params, metrics string
	var created int64
	if err := s.Scan(&v.ID, &v.IdentifierID, &v.Version, &v.File, &params, &metrics, &created); err != nil {
		return v, err
	}
	v.Created = fromMillis(created)
	if err := json.Unmarshal([]byte(params), &v.Params); err != nil {
		return v, fmt.Errorf("identifier version %d params: %w", v.ID, err)
	}
	if err := json.Unmarshal([]byte(metrics), &v.Metrics); err != nil {
		return v, fmt.Errorf("identifier version %d metrics: %w", v.ID, err)
	}
	return v, nil
}

// IdentifierVersions lists the versions of an identifier, oldest first.
func (l *Library) IdentifierVersions(ctx context.Context, identifierID int64) ([]IdentifierVersion, error) {
	return queryAll(ctx, l.db, scanVersion, `SELECT `+versionCols+` FROM identifier_versions WHERE identifier_id = ? ORDER BY version`, identifierID)
}

// IdentifierVersion returns one version by its row id.
func (l *Library) IdentifierVersion(ctx context.Context, id int64) (IdentifierVersion, error) {
	v, err := scanVersion(l.db.QueryRowContext(ctx, `SELECT `+versionCols+` FROM identifier_versions WHERE id = ?`, id))
	return v, notFound(err, "identifier version", id)
}

// LatestVersion returns the newest version of an identifier.
func (l *Library) LatestVersion(ctx context.Context, identifierID int64) (IdentifierVersion, error) {
	v, err := scanVersion(l.db.QueryRowContext(ctx, `SELECT `+versionCols+` FROM identifier_versions
		WHERE identifier_id = ? ORDER BY version DESC LIMIT 1`, identifierID))
	return v, notFound(err, "latest version of identifier", identifierID)
}

// DeleteIdentifierVersion removes one version (and its file when unused).
func (l *Library) DeleteIdentifierVersion(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "identifier version", `DELETE FROM identifier_versions WHERE id = ?`, id)
}

// ResolveIdentifiers maps identifier references as images record them
// ("name:hash" with at least 8 hex digits of the file's sha256, see
// Library.Settings) back to identifier version ids, for "use these settings
// again". References it cannot find are named in the error; the ids found
// are returned either way.
func (l *Library) ResolveIdentifiers(ctx context.Context, refs []string) ([]int64, error) {
	var ids []int64
	var missing []string
	for _, ref := range refs {
		i := strings.LastIndexByte(ref, ':')
		prefix := strings.ToLower(strings.TrimSpace(ref[i+1:]))
		if i < 0 || len(prefix) < 8 || len(prefix) > 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
			missing = append(missing, ref)
			continue
		}
		var id int64
		// Hex digits only, so the prefix holds no LIKE wildcards.
		err := l.db.QueryRowContext(ctx, `SELECT id FROM identifier_versions WHERE file LIKE ? || '%' ORDER BY id DESC LIMIT 1`,
			prefix).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			missing = append(missing, ref)
			continue
		}
		if err != nil {
			return ids, fmt.Errorf("resolve identifier %q: %w", ref, err)
		}
		ids = append(ids, id)
	}
	if len(missing) > 0 {
		return ids, fmt.Errorf("identifiers not in this library: %s: %w", strings.Join(missing, ", "), ErrNotFound)
	}
	return ids, nil
}
