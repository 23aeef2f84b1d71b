package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"sync"

	"github.com/disintegration/imaging"
	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
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
	if opt.Cell < 32 || opt.Cell > 2048 {
		return nil, fmt.Errorf("contact sheet: cell size %d outside 32..2048", opt.Cell)
	}
	if n := len(opt.Subjects) * len(opt.Actions); n > 10000 {
		return nil, fmt.Errorf("contact sheet: %d cells is too many", n)
	}
	face, err := sheetFace(opt.Cell)
	if err != nil {
		return nil, fmt.Errorf("contact sheet: %w", err)
	}
	defer face.Close()
	cell, pad := opt.Cell, opt.Cell/16
	lineH := face.Metrics().Height.Ceil()
	labelW := 0
	for _, s := range opt.Subjects {
		labelW = max(labelW, font.MeasureString(face, s.Name).Ceil())
	}
	labelW = min(labelW, 2*cell) + 2*pad
	headerH := lineH + 2*pad
	w := labelW + len(opt.Actions)*(cell+pad) + pad
	h := headerH + len(opt.Subjects)*(cell+pad) + pad
	sheet := image.NewNRGBA(image.Rect(0, 0, w, h))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(sheetBackground), image.Point{}, draw.Src)

	for j, a := range opt.Actions {
		x := labelW + j*(cell+pad)
		if tw := font.MeasureString(face, a.Name).Ceil(); tw < cell {
			x += (cell - tw) / 2 // centre short names over their column
		}
		drawLabel(sheet, face, a.Name, x, pad, cell)
	}
	for i, s := range opt.Subjects {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		y := headerH + i*(cell+pad)
		drawLabel(sheet, face, s.Name, pad, y+(cell-lineH)/2, labelW-2*pad)
		for j, a := range opt.Actions {
			r := image.Rect(0, 0, cell, cell).Add(image.Pt(labelW+j*(cell+pad), y))
			hash, err := l.sheetPick(ctx, s.ID, a.ID)
			if err != nil {
				return nil, fmt.Errorf("contact sheet: %w", err)
			}
			if hash == "" {
				draw.Draw(sheet, r, image.NewUniform(sheetEmpty), image.Point{}, draw.Src)
				continue
			}
			img, err := l.Image(hash)
			if err != nil {
				return nil, fmt.Errorf("contact sheet: %s / %s: %w", s.Name, a.Name, err)
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

var (
	goRegular     *opentype.Font
	goRegularErr  error
	goRegularOnce sync.Once
)

// sheetFace is Go Regular at a size that suits the cell (11..24 px).
func sheetFace(cell int) (font.Face, error) {
	goRegularOnce.Do(func() { goRegular, goRegularErr = opentype.Parse(goregular.TTF) })
	if goRegularErr != nil {
		return nil, goRegularErr
	}
	size := min(max(float64(cell)/12, 11), 24)
	return opentype.NewFace(goRegular, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}

// drawLabel writes text with its top-left corner at (x, y), cut with an
// ellipsis to maxW pixels.
func drawLabel(dst draw.Image, face font.Face, text string, x, y, maxW int) {
	if font.MeasureString(face, text).Ceil() > maxW {
		rs := []rune(text)
		for len(rs) > 0 && font.MeasureString(face, string(rs)+"…").Ceil() > maxW {
			rs = rs[:len(rs)-1]
		}
		text = string(rs) + "…"
	}
	d := font.Drawer{Dst: dst, Src: image.NewUniform(sheetText), Face: face,
		Dot: fixed.P(x, y+face.Metrics().Ascent.Ceil())}
	d.DrawString(text)
}
