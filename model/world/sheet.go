package world

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"slices"

	"golang.org/x/image/font"

	"kata/assets/fonts"
)

// SheetOptions lay out a contact sheet; zero values take the defaults.
type SheetOptions struct {
	Kinds   []string // rows; default Kinds
	Actions []string // columns; default Actions()
	Cell    int      // render size of one cell in pixels; default 64
	Seed    uint64   // pose jitter of every cell
	// Scene, when set, gives the scene of each cell (its kind and action are
	// replaced by the cell's, and clothes dropped from kinds that wear none);
	// default: SheetScene.
	Scene func(row, col int) Scene
}

// SheetScene is the default cell of a sheet: the row's kind in a colour
// that changes from row to row, on a plain white background.
func SheetScene(kind, action string, row int, seed uint64) Scene {
	return Scene{Kind: kind, Action: action, Color: Colors[(row*3+4)%len(Colors)],
		Background: "plain", BackColor: "white", Seed: seed}
}

// Sheet draws a labelled contact sheet: one row per kind, one column per
// action, the action names on top (benchmark actions marked "*", labels on
// two alternating lines) and the kind names on the left. The sheet is the
// label margin plus columns x Cell wide and two label lines plus rows x Cell
// tall.
func Sheet(opt SheetOptions) (*image.NRGBA, error) {
	kinds, actions, cell := opt.Kinds, opt.Actions, opt.Cell
	if kinds == nil {
		kinds = Kinds
	}
	if actions == nil {
		actions = Actions()
	}
	if cell == 0 {
		cell = 64
	}
	if cell < MinSize {
		return nil, fmt.Errorf("world: sheet cell %d below %d", cell, MinSize)
	}
	face, err := labelFace(cell)
	if err != nil {
		return nil, fmt.Errorf("world: sheet font: %w", err)
	}
	defer face.Close()
	line := face.Metrics().Height.Ceil() + 4
	left := 0
	for _, k := range kinds {
		left = max(left, font.MeasureString(face, k).Ceil()+8)
	}
	top := 2 * line
	sheet := image.NewNRGBA(image.Rect(0, 0, left+len(actions)*cell, top+len(kinds)*cell))
	draw.Draw(sheet, sheet.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	for c, a := range actions {
		label := a
		if IsBenchmark(a) {
			label = "*" + a
		}
		// Alternate label rows so that long names never overlap.
		drawLabel(sheet, face, label, left+c*cell+2, (c%2)*line+2, 2*cell-4)
	}
	for r, k := range kinds {
		drawLabel(sheet, face, k, 4, top+r*cell+cell/2-line/2, left-6)
		for c, a := range actions {
			s := SheetScene(k, a, r, opt.Seed)
			if opt.Scene != nil {
				s = opt.Scene(r, c)
			}
			s.Kind, s.Action = k, a
			if !slices.Contains(ClothingKinds, k) {
				s.Shirt, s.Trousers = "", ""
			}
			img, err := render(s, cell)
			if err != nil {
				return nil, err
			}
			at := image.Pt(left+c*cell, top+r*cell)
			draw.Draw(sheet, img.Bounds().Add(at), img, image.Point{}, draw.Src)
		}
	}
	return sheet, nil
}

// labelFace is the label font sized for cells of cell pixels (10..16 px).
func labelFace(cell int) (font.Face, error) {
	return fonts.Label(min(max(float64(cell)/6, 10), 16))
}

// drawLabel writes text in dark grey with its top-left corner at (x, y),
// cut to maxW pixels.
func drawLabel(dst draw.Image, face font.Face, text string, x, y, maxW int) {
	fonts.Draw(dst, face, fonts.Fit(face, text, maxW, ""), x, y, color.NRGBA{20, 20, 20, 255})
}
