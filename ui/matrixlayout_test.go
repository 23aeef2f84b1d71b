package ui

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
)

func TestMatrixLayout(t *testing.T) {
	pad := theme.Padding()
	box := func(w, h float32) fyne.CanvasObject {
		r := canvas.NewRectangle(nil)
		r.SetMinSize(fyne.NewSize(w, h))
		return r
	}
	tests := []struct {
		name    string
		cols    int
		objects []fyne.CanvasObject
		width   float32
		want    []fyne.Position // each object's position
		sizes   []fyne.Size     // each object's size
		min     fyne.Size
	}{{
		name: "header row keeps its own height; label column its own width",
		cols: 2,
		// header: empty corner, action label; row: subject label, images.
		objects: []fyne.CanvasObject{box(10, 10), box(80, 30), box(100, 40), box(60, 200)},
		width:   500,
		want:    []fyne.Position{{X: 0, Y: 0}, {X: 100 + pad, Y: 0}, {X: 0, Y: 30 + pad}, {X: 100 + pad, Y: 30 + pad}},
		sizes:   []fyne.Size{{Width: 100, Height: 30}, {Width: 400 - pad, Height: 30}, {Width: 100, Height: 40 + 160}, {Width: 400 - pad, Height: 200}},
		min:     fyne.Size{Width: 100 + pad + 80, Height: 30 + pad + 200},
	}, {
		name:    "columns never narrower than their widest object",
		cols:    3,
		objects: []fyne.CanvasObject{box(50, 10), box(120, 10), box(90, 10)},
		width:   100,
		want:    []fyne.Position{{X: 0, Y: 0}, {X: 50 + pad, Y: 0}, {X: 50 + 120 + 2*pad, Y: 0}},
		sizes:   []fyne.Size{{Width: 50, Height: 10}, {Width: 120, Height: 10}, {Width: 120, Height: 10}},
		min:     fyne.Size{Width: 50 + 2*(120+pad), Height: 10},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newMatrixLayout(tt.cols)
			l.Layout(tt.objects, fyne.NewSize(tt.width, 1000))
			for i, o := range tt.objects {
				if o.Position() != tt.want[i] || o.Size() != tt.sizes[i] {
					t.Errorf("object %d at %v size %v, want %v size %v", i, o.Position(), o.Size(), tt.want[i], tt.sizes[i])
				}
			}
			if got := l.MinSize(tt.objects); got != tt.min {
				t.Errorf("min size %v, want %v", got, tt.min)
			}
		})
	}
}
