package store

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"image"
	"strings"
	"time"

	"kata/model/placeholder"
	"kata/store/imagemeta"
)

// Generation is one generated image with the settings that made it.
type Generation struct {
	ID                 int64
	Prompt, Negative   string
	Seed               int64
	Sampler            string
	Steps              int
	CFG                float64
	Width, Height      int
	ModelHash          string
	Strength           float64 // img2img denoising strength; 0 = text-to-image
	IdentifierVersions []int64 // identifier versions the prompt used
	SubjectID          int64   // 0 = none
	ActionID           int64   // 0 = none
	Image              string  // sha256 of the stored PNG (which carries the settings too)
	Favourite          bool
	Created            time.Time
	// Settings, when set on AddGeneration, are what the PNG carries: the
	// settings the generation was made with, so the window's images and
	// kata generate's read alike (nil: made from the row, see Settings).
	// Empty Identifiers are named from IdentifierVersions. Not stored in
	// the row; generations read back have nil.
	Settings *imagemeta.Settings
}

// Settings returns the generation's settings in image-metadata form;
// identifiers are listed as "trigger:hash": their action's trigger without
// its angle brackets (as prompts spell it, see model/placeholder) and the
// first 12 hex digits of their file, e.g. "hand-stand:0123456789ab", which
// is how kata generate and the window name them too.
func (l *Library) Settings(ctx context.Context, g Generation) (imagemeta.Settings, error) {
	s := imagemeta.Settings{Prompt: g.Prompt, Negative: g.Negative, Steps: g.Steps, Sampler: g.Sampler, CFG: g.CFG,
		Seed: g.Seed, Width: g.Width, Height: g.Height, ModelHash: g.ModelHash, Strength: g.Strength}
	for _, vid := range g.IdentifierVersions {
		var trigger, file string
		err := l.db.QueryRowContext(ctx, `SELECT a.trigger_token, v.file FROM identifier_versions v
			JOIN identifiers i ON i.id = v.identifier_id JOIN actions a ON a.id = i.action_id
			WHERE v.id = ?`, vid).Scan(&trigger, &file)
		if err != nil {
			return s, notFound(err, "identifier version", vid)
		}
		s.Identifiers = append(s.Identifiers, placeholder.Label(trigger, file))
	}
	var model string
	if l.db.QueryRowContext(ctx, `SELECT name FROM models WHERE hash = ? AND hash != '' LIMIT 1`, g.ModelHash).Scan(&model) == nil {
		s.Model = model
	}
	return s, nil
}

// AddGeneration stores img as a PNG carrying the generation's settings (A1111
// "parameters" and Kata's JSON: g.Settings when set, else made from g) and
// adds the row. Width and Height default to the image's size.
func (l *Library) AddGeneration(ctx context.Context, g Generation, img image.Image) (Generation, error) {
	if g.Width == 0 && g.Height == 0 {
		g.Width, g.Height = img.Bounds().Dx(), img.Bounds().Dy()
	}
	s, err := l.Settings(ctx, g)
	if err != nil {
		return g, fmt.Errorf("add generation: %w", err)
	}
	if g.Settings != nil {
		ids := s.Identifiers
		s = *g.Settings
		if len(s.Identifiers) == 0 {
			s.Identifiers = ids
		}
		g.Settings = nil
	}
	var buf bytes.Buffer
	if err := imagemeta.EncodePNG(&buf, img, s); err != nil {
		return g, fmt.Errorf("add generation: %w", err)
	}
	g.Created = fromMillis(now())
	g.Image, err = l.addWithBlob(ctx, buf.Bytes(), KindPNG, func(tx *sql.Tx, hash string) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO generations(prompt, negative, seed, sampler, steps, cfg, width, height, model_hash,
			strength, image, favourite, subject_id, action_id, created) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			g.Prompt, g.Negative, g.Seed, g.Sampler, g.Steps, g.CFG, g.Width, g.Height, g.ModelHash, g.Strength, hash,
			g.Favourite, nullID(g.SubjectID), nullID(g.ActionID), g.Created.UnixMilli())
		if err != nil {
			return err
		}
		if g.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		for _, v := range g.IdentifierVersions {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO generation_identifiers(generation_id, version_id) VALUES(?, ?)`, g.ID, v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return g, fmt.Errorf("add generation: %w", err)
	}
	return g, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

const generationCols = `id, prompt, negative, seed, sampler, steps, cfg, width, height, model_hash, strength, image, favourite,
	coalesce(subject_id, 0), coalesce(action_id, 0), created,
	(SELECT coalesce(group_concat(version_id), '') FROM generation_identifiers WHERE generation_id = generations.id)`

func scanGeneration(s scanner) (Generation, error) {
	var g Generation
	var created int64
	var versions string
	err := s.Scan(&g.ID, &g.Prompt, &g.Negative, &g.Seed, &g.Sampler, &g.Steps, &g.CFG, &g.Width, &g.Height, &g.ModelHash,
		&g.Strength, &g.Image, &g.Favourite, &g.SubjectID, &g.ActionID, &created, &versions)
	g.Created = fromMillis(created)
	for _, v := range strings.Split(versions, ",") {
		var id int64
		if _, e := fmt.Sscan(v, &id); e == nil {
			g.IdentifierVersions = append(g.IdentifierVersions, id)
		}
	}
	return g, err
}

// Generation returns the generation with the given id.
func (l *Library) Generation(ctx context.Context, id int64) (Generation, error) {
	g, err := scanGeneration(l.db.QueryRowContext(ctx, `SELECT `+generationCols+` FROM generations WHERE id = ?`, id))
	return g, notFound(err, "generation", id)
}

// GenerationFilter selects generations; zero fields select everything.
type GenerationFilter struct {
	SubjectID, ActionID int64
	Favourites          bool // only favourites
	Limit, Offset       int  // Limit 0 = no limit
}

// Generations lists generations, newest first.
func (l *Library) Generations(ctx context.Context, f GenerationFilter) ([]Generation, error) {
	q := `SELECT ` + generationCols + ` FROM generations WHERE 1`
	var args []any
	if f.SubjectID != 0 {
		q += ` AND subject_id = ?`
		args = append(args, f.SubjectID)
	}
	if f.ActionID != 0 {
		q += ` AND action_id = ?`
		args = append(args, f.ActionID)
	}
	if f.Favourites {
		q += ` AND favourite`
	}
	q += ` ORDER BY created DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ? OFFSET ?`
		args = append(args, f.Limit, f.Offset)
	}
	return queryAll(ctx, l.db, scanGeneration, q, args...)
}

// SetFavourite marks or unmarks a generation as favourite.
func (l *Library) SetFavourite(ctx context.Context, id int64, fav bool) error {
	return l.update(ctx, "generation", id, `UPDATE generations SET favourite = ? WHERE id = ?`, fav, id)
}

// DeleteGeneration removes a generation and, when unused, its image file.
func (l *Library) DeleteGeneration(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "generation", `DELETE FROM generations WHERE id = ?`, id)
}
