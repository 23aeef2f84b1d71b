package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"github.com/disintegration/imaging"
	"golang.org/x/image/font"

	"kata/assets/fonts"
)

// SheetOptions lay out a contact sheet.
type SheetOptions struct {
	Subjects []Subject // rows; nil = all subjects
	Actions  []Action  // columns; nil = all actions
	Cell     int       // side of one picture cell in pixels; default 192
}

// Sheet colours.
var (
	sheetBackground = color.NRGBA{255, 255, 255, 255}
	sheetEmpty      = color.NRGBA{232, 232, 232, 255}
	sheetText       = color.NRGBA{20, 20, 20, 255}
)

// ContactSheet draws a subjects x actions grid: one row per subject, one
// column per action, labels on the left and on top. Each cell shows the
// favourite generation of that pair (else the newest), fitted to the cell;
// pairs without a generation stay grey.
func (l *Library) ContactSheet(ctx context.Context, opt SheetOptions) (*image.NRGBA, error) {
	var err error
	if opt.Subjects == nil {
		if opt.Subjects, err = l.Subjects(ctx); err != nil {
			return nil, fmt.Errorf("contact sheet: %w", err)
		}
	}
	if opt.Actions == nil {
		if opt.Actions, err = l.Actions(ctx); err != nil {
			return nil, fmt.Errorf("contact sheet: %w", err)
		}
	}
	if len(opt.Subjects) == 0 || len(opt.Actions) == 0 {
		return nil, errors.New("contact sheet: needs at least one subject and one action")
	}
	if opt.Cell <= 0 {
		opt.Cell = 192
	}
	subjects := make([]string, len(opt.Subjects))
	for i, s := range opt.Subjects {
		subjects[i] = s.Name
	}
	actions := make([]string, len(opt.Actions))
	for j, a := range opt.Actions {
		actions[j] = a.Name
	}
	sheet, err := DrawSheet(ctx, subjects, actions, opt.Cell, func(i, j int) (image.Image, error) {
		hash, err := l.sheetPick(ctx, opt.Subjects[i].ID, opt.Actions[j].ID)
		if err != nil || hash == "" {
			return nil, err
		}
		img, err := l.Image(hash)
		if err != nil {
			return nil, fmt.Errorf("%s / %s: %w", opt.Subjects[i].Name, opt.Actions[j].Name, err)
		}
		return img, nil
	})
	if err != nil {
		return nil, fmt.Errorf("contact sheet: %w", err)
	}
	return sheet, nil
}

// DrawSheet draws a labelled grid of pictures: rows[i] on the left of row
// i, cols[j] on top of column j, and picture(i, j) fitted into each cell of
// cell x cell pixels (cell in 32..2048); a nil picture leaves its cell grey.
// It is the layout of every contact sheet Kata writes (the library's, the
// benchmark's). The sheet is about (label + len(cols) x cell) wide and
// (label + len(rows) x cell) tall, with cell/16 pixels between cells.
func DrawSheet(ctx context.Context, rows, cols []string, cell int, picture func(i, j int) (image.Image, error)) (*image.NRGBA, error) {
	if len(rows) == 0 || len(cols) == 0 {
		return nil, errors.New("needs at least one row and one column")
	}
	if cell < 32 || cell > 2048 {
		return nil, fmt.Errorf("cell size %d outside 32..2048", cell)
	}
	if n := len(rows) * len(cols); n > 10000 {
		return nil, fmt.Errorf("%d cells is too many", n)
	}
	face, err := sheetFace(cell)
	if err != nil {
		return nil, err
	}
	defer face.Close()
	pad := cell / 16
	lineH := face.Metrics().Height.Ceil()
	labelW := 0
	for _, r := range rows {
		labelW = max(labelW, font.MeasureString(face, r).Ceil())
	}
	labelW = min(labelW, 2*cell) + 2*pad
	headerH := lineH + 2*pad
	w := labelW + len(cols)*(cell+pad) + pad
	h := headerH + len(rows)*(cell+pad) + pad
	sheet := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(sheetBackground), image.Point{}, draw.Src)

	for j, c := range cols {
		x := labelW + j*(cell+pad)
		if tw := font.MeasureString(face, c).Ceil(); tw < cell {
			x += (cell - tw) / 2 // centre short names over their column
		}
		drawLabel(sheet, face, c, x, pad, cell)
	}
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		y := headerH + i*(cell+pad)
		drawLabel(sheet, face, row, pad, y+(cell-lineH)/2, labelW-2*pad)
		for j := range cols {
			r := image.Rect(0, 0, cell, cell).Add(image.Pt(labelW+j*(cell+pad), y))
			img, err := picture(i, j)
			if err != nil {
				return nil, err
			}
			if img == nil {
				draw.Draw(sheet, r, image.NewUniform(sheetEmpty), image.Point{}, draw.Src)
				continue
			}
			fit := imaging.Fit(img, cell, cell, imaging.Lanczos)
			off := image.Pt((cell-fit.Bounds().Dx())/2, (cell-fit.Bounds().Dy())/2)
			draw.Draw(sheet, fit.Bounds().Add(r.Min).Add(off), fit, image.Point{}, draw.Over)
		}
	}
	return sheet, nil
}

// sheetPick returns the image hash shown for a subject and action.
func (l *Library) sheetPick(ctx context.Context, subjectID, actionID int64) (string, error) {
	var hash string
	err := l.db.QueryRowContext(ctx, `SELECT image FROM generations WHERE subject_id = ? AND action_id = ?
		ORDER BY favourite DESC, created DESC, id DESC LIMIT 1`, subjectID, actionID).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return hash, err
}

// sheetFace is the label font at a size that suits the cell (11..24 px).
func sheetFace(cell int) (font.Face, error) {
	return fonts.Label(min(max(float64(cell)/12, 11), 24))
}

// drawLabel writes text with its top-left corner at (x, y), cut with an
// ellipsis to maxW pixels.
func drawLabel(dst draw.Image, face font.Face, text string, x, y, maxW int) {
	fonts.Draw(dst, face, fonts.Fit(face, text, maxW, "…"), x, y, sheetText)
}
