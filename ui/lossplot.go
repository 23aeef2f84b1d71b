package ui

import (
	"fmt"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// lossPlot draws a training run's smoothed loss against its step, scaled to
// the values so far, with the latest value written in a corner.
type lossPlot struct {
	widget.BaseWidget
	steps  []int
	losses []float64
}

func newLossPlot() *lossPlot {
	p := &lossPlot{}
	p.ExtendBaseWidget(p)
	return p
}

// add appends one point; it runs on the UI goroutine.
func (p *lossPlot) add(step int, loss float64) {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return
	}
	p.steps = append(p.steps, step)
	p.losses = append(p.losses, loss)
	p.Refresh()
}

// reset forgets every point.
func (p *lossPlot) reset() {
	p.steps, p.losses = nil, nil
	p.Refresh()
}

// CreateRenderer draws the plot.
func (p *lossPlot) CreateRenderer() fyne.WidgetRenderer {
	r := &lossRenderer{p: p, frame: canvas.NewRectangle(nil), label: canvas.NewText("", theme.Color(theme.ColorNameForeground))}
	r.frame.StrokeColor = theme.Color(theme.ColorNameSeparator)
	r.frame.StrokeWidth = 1
	r.label.TextSize = theme.CaptionTextSize()
	return r
}

type lossRenderer struct {
	p     *lossPlot
	frame *canvas.Rectangle
	label *canvas.Text
	lines []*canvas.Line
	size  fyne.Size
}

func (r *lossRenderer) Layout(s fyne.Size) {
	r.size = s
	r.frame.Resize(s)
	r.Refresh()
}

func (r *lossRenderer) MinSize() fyne.Size { return fyne.NewSize(180, 96) }

func (r *lossRenderer) Refresh() {
	p, s := r.p, r.size
	n := len(p.losses)
	r.label.Text = "loss"
	if n > 0 {
		r.label.Text = fmt.Sprintf("loss %.4f at step %d", p.losses[n-1], p.steps[n-1])
	}
	r.label.Color = theme.Color(theme.ColorNameForeground)
	r.label.Move(fyne.NewPos(4, 2))
	r.label.Refresh()
	for len(r.lines) < n-1 {
		l := canvas.NewLine(theme.Color(theme.ColorNamePrimary))
		l.StrokeWidth = 2
		r.lines = append(r.lines, l)
	}
	r.lines = r.lines[:max(n-1, 0)]
	if n < 2 {
		canvas.Refresh(r.frame)
		return
	}
	lo, hi := p.losses[0], p.losses[0]
	for _, v := range p.losses {
		lo, hi = min(lo, v), max(hi, v)
	}
	if hi-lo < 1e-12 {
		hi = lo + 1
	}
	first, last := float32(p.steps[0]), float32(p.steps[n-1])
	if last <= first {
		last = first + 1
	}
	top := r.label.MinSize().Height + 4
	at := func(i int) fyne.Position {
		x := 4 + (float32(p.steps[i])-first)/(last-first)*(s.Width-8)
		y := top + (1-float32((p.losses[i]-lo)/(hi-lo)))*(s.Height-top-4)
		return fyne.NewPos(x, y)
	}
	for i, l := range r.lines {
		l.Position1, l.Position2 = at(i), at(i+1)
		l.StrokeColor = theme.Color(theme.ColorNamePrimary)
		l.Refresh()
	}
}

func (r *lossRenderer) Objects() []fyne.CanvasObject {
	out := []fyne.CanvasObject{r.frame, r.label}
	for _, l := range r.lines {
		out = append(out, l)
	}
	return out
}

func (r *lossRenderer) Destroy() {}
