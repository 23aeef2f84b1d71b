package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"image"
	"image/png"
	"time"

	"kata/store/contenthash"
)

// Exemplar is one photo of an action, stored as PNG (orientation applied,
// RGB) under its content hash.
type Exemplar struct {
	ID       int64
	ActionID int64
	Image    string          // sha256 of the stored PNG; see Library.BlobPath
	Caption  string          // caption with the action written as the action's trigger
	Crop     image.Rectangle // region to train on; empty = whole image
	Source   string          // path it was imported from, for the user's reference
	Created  time.Time
}

// EncodePNG is how the library stores pictures: PNG at default compression,
// which is deterministic, so the same pixels always get the same hash.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// AddExemplar stores img and adds it to the action e.ActionID. When the
// action already has the same picture it returns that exemplar and an error
// wrapping ErrDuplicate.
func (l *Library) AddExemplar(ctx context.Context, e Exemplar, img image.Image) (Exemplar, error) {
	data, err := EncodePNG(img)
	if err != nil {
		return e, fmt.Errorf("add exemplar: %w", err)
	}
	hash := contenthash.Bytes(data)
	if old, err := scanExemplar(l.db.QueryRowContext(ctx, `SELECT `+exemplarCols+` FROM exemplars WHERE action_id = ? AND image = ?`,
		e.ActionID, hash)); err == nil {
		return old, fmt.Errorf("add exemplar %s: %w", e.Source, ErrDuplicate)
	}
	e.Created = fromMillis(now())
	e.Image = hash
	_, err = l.addWithBlob(ctx, data, KindPNG, func(tx *sql.Tx, hash string) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO exemplars(action_id, image, caption, crop_x, crop_y, crop_w, crop_h, source_path, created)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.ActionID, hash, e.Caption,
			e.Crop.Min.X, e.Crop.Min.Y, e.Crop.Dx(), e.Crop.Dy(), e.Source, e.Created.UnixMilli())
		if err != nil {
			return err
		}
		e.ID, err = res.LastInsertId()
		return err
	})
	if err != nil {
		if isUnique(err) {
			err = ErrDuplicate
		}
		return e, fmt.Errorf("add exemplar %s: %w", e.Source, err)
	}
	return e, nil
}

const exemplarCols = `id, action_id, image, caption, crop_x, crop_y, crop_w, crop_h, source_path, created`

func scanExemplar(s scanner) (Exemplar, error) {
	var e Exemplar
	var x, y, w, h int
	var created int64
	err := s.Scan(&e.ID, &e.ActionID, &e.Image, &e.Caption, &x, &y, &w, &h, &e.Source, &created)
	e.Crop = image.Rect(x, y, x+w, y+h)
	e.Created = fromMillis(created)
	return e, err
}

// Exemplar returns the exemplar with the given id.
func (l *Library) Exemplar(ctx context.Context, id int64) (Exemplar, error) {
	e, err := scanExemplar(l.db.QueryRowContext(ctx, `SELECT `+exemplarCols+` FROM exemplars WHERE id = ?`, id))
	return e, notFound(err, "exemplar", id)
}

// Exemplars lists the exemplars of an action (all exemplars for actionID 0)
// in the order they were added.
func (l *Library) Exemplars(ctx context.Context, actionID int64) ([]Exemplar, error) {
	if actionID == 0 {
		return queryAll(ctx, l.db, scanExemplar, `SELECT `+exemplarCols+` FROM exemplars ORDER BY id`)
	}
	return queryAll(ctx, l.db, scanExemplar, `SELECT `+exemplarCols+` FROM exemplars WHERE action_id = ? ORDER BY id`, actionID)
}

// UpdateExemplar saves the Caption and Crop of an exemplar.
func (l *Library) UpdateExemplar(ctx context.Context, e Exemplar) error {
	return l.update(ctx, "exemplar", e.ID, `UPDATE exemplars SET caption = ?, crop_x = ?, crop_y = ?, crop_w = ?, crop_h = ? WHERE id = ?`,
		e.Caption, e.Crop.Min.X, e.Crop.Min.Y, e.Crop.Dx(), e.Crop.Dy(), e.ID)
}

// DeleteExemplar removes an exemplar (and its file when nothing else uses it).
func (l *Library) DeleteExemplar(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "exemplar", `DELETE FROM exemplars WHERE id = ?`, id)
}

// storedLimits bound the decoding of the library's own pictures: the import
// limits on size and pixels (a hostile file put in blobs/ is refused like one
// given to import), without a minimum side (thumbnails are small).
var storedLimits = Limits{MinSide: -1}

// Image decodes a stored PNG with DecodeFile under the import limits on file
// size and pixels (no minimum side). The result is opaque NRGBA.
func (l *Library) Image(hash string) (image.Image, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("decode stored image: bad hash %q", hash)
	}
	img, err := DecodeFile(l.BlobPath(hash), storedLimits)
	if err != nil {
		return nil, fmt.Errorf("decode stored image %s: %w", hash, err)
	}
	return img, nil
}
