package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// matrixLayout lays objects out as a table of cols columns, row by row in
// the order they were added: the first column (the row labels) is as wide as
// its widest object, the other columns share the rest equally (never below
// their widest object), and each row is as tall as its tallest object, so a
// header of labels stays one label high above rows of images.
type matrixLayout struct{ cols int }

// newMatrixLayout returns a matrixLayout of cols columns (at least 1).
func newMatrixLayout(cols int) fyne.Layout { return &matrixLayout{cols: max(cols, 1)} }

// sizes returns the first column's width, the other columns' minimum width,
// and each row's height.
func (l *matrixLayout) sizes(objects []fyne.CanvasObject) (first, other float32, rows []float32) {
	for i, o := range objects {
		if !o.Visible() {
			continue
		}
		r, c := i/l.cols, i%l.cols
		for len(rows) <= r {
			rows = append(rows, 0)
		}
		m := o.MinSize()
		rows[r] = max(rows[r], m.Height)
		if c == 0 {
			first = max(first, m.Width)
		} else {
			other = max(other, m.Width)
		}
	}
	return first, other, rows
}

func (l *matrixLayout) MinSize(objects []fyne.CanvasObject) fyne.Size {
	first, other, rows := l.sizes(objects)
	pad := theme.Padding()
	var h float32
	for i, r := range rows {
		if i > 0 {
			h += pad
		}
		h += r
	}
	return fyne.NewSize(first+float32(l.cols-1)*(other+pad), h)
}

func (l *matrixLayout) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	first, other, rows := l.sizes(objects)
	pad := theme.Padding()
	if l.cols > 1 {
		other = max(other, (size.Width-first)/float32(l.cols-1)-pad)
	}
	y := float32(0)
	for r, h := range rows {
		x := float32(0)
		for c := 0; c < l.cols; c++ {
			w := other
			if c == 0 {
				w = first
			}
			if i := r*l.cols + c; i < len(objects) {
				objects[i].Move(fyne.NewPos(x, y))
				objects[i].Resize(fyne.NewSize(w, h))
			}
			x += w + pad
		}
		y += h + pad
	}
}
