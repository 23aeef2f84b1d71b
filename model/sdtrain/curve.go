package sdtrain

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"path/filepath"

	"kata/assets/fonts"
	"kata/store/atomicfile"
)

// LossCurvePath is where a stage's loss curve PNG lives in a checkpoint folder.
func LossCurvePath(dir string, stage Stage) string {
	return filepath.Join(dir, string(stage)+"-loss.png")
}

// Loss curve layout, in pixels.
const (
	curveW, curveH = 800, 400
	marginL        = 70
	marginR        = 20
	marginT        = 30
	marginB        = 40
)

// Colours of the loss curve's marks.
var (
	// averageColor draws the moving average.
	averageColor = color.NRGBA{30, 90, 220, 255}
	// nonFiniteColor marks, at the top of the plot, a step whose loss is
	// infinite or NaN.
	nonFiniteColor = color.NRGBA{220, 40, 40, 255}
)

// nonFiniteTick is the height in pixels of a non-finite loss's mark.
const nonFiniteTick = 8

// WriteLossCurve draws losses (one per step) as a PNG at path, atomically:
// every loss in light grey, a moving average over 1% of the steps (at least
// 1) in blue, on a log-scale loss axis labelled with its range and a step
// axis labelled with the step count (in the label font of assets/fonts).
// An infinite or NaN loss is left out of the average and the axis range and
// drawn as a red tick at the top of the plot; the average has a gap where
// its window holds no finite loss.
func WriteLossCurve(path, title string, losses []float32) error {
	face, err := fonts.Label(12)
	if err != nil {
		return fmt.Errorf("loss curve: %w", err)
	}
	defer face.Close()
	img := image.NewNRGBA(image.Rect(0, 0, curveW, curveH))
	label := func(x, baseline int, s string) {
		fonts.Draw(img, face, s, x, baseline-face.Metrics().Ascent.Ceil(), color.Black)
	}
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	axis := color.NRGBA{0, 0, 0, 255}
	pw, ph := curveW-marginL-marginR, curveH-marginT-marginB
	for x := marginL; x <= marginL+pw; x++ {
		img.SetNRGBA(x, marginT+ph, axis)
	}
	for y := marginT; y <= marginT+ph; y++ {
		img.SetNRGBA(marginL, y, axis)
	}
	label(marginL, 18, title)
	label(marginL+pw-60, curveH-12, fmt.Sprintf("step %d", len(losses)))
	label(marginL, curveH-12, "0")
	for i, l := range losses {
		if !isFinite(float64(l)) {
			x := stepX(i, len(losses), pw)
			line(img, x, marginT, x, marginT+nonFiniteTick, nonFiniteColor)
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, l := range losses {
		if v := float64(l); v > 0 && isFinite(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if len(losses) > 0 && lo <= hi {
		if hi/lo < 1.01 {
			lo, hi = lo/1.01, hi*1.01
		}
		label(4, marginT+8, fmt.Sprintf("%.3g", hi))
		label(4, marginT+ph, fmt.Sprintf("%.3g", lo))
		ly, lh := math.Log(lo), math.Log(hi)
		point := func(i int, v float64) (int, int, bool) {
			if !(v > 0) || !isFinite(v) {
				return 0, 0, false
			}
			x := stepX(i, len(losses), pw)
			y := marginT + int((lh-math.Log(v))/(lh-ly)*float64(ph))
			return x, y, true
		}
		for i, l := range losses {
			if x, y, ok := point(i, float64(l)); ok {
				img.SetNRGBA(x, y, color.NRGBA{190, 190, 190, 255})
			}
		}
		// The moving average is over the finite losses of the last win
		// steps; a window with none leaves a gap in the line.
		win := max(1, len(losses)/100)
		var sum float64
		n := 0
		px, py := -1, -1
		for i, l := range losses {
			if v := float64(l); isFinite(v) {
				sum += v
				n++
			}
			if i >= win {
				if v := float64(losses[i-win]); isFinite(v) {
					sum -= v
					n--
				}
			}
			if n == 0 {
				px, py = -1, -1
				continue
			}
			x, y, ok := point(i, sum/float64(n))
			if !ok {
				continue
			}
			if px >= 0 {
				line(img, px, py, x, y, averageColor)
			}
			px, py = x, y
		}
	}
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) })
}

// isFinite reports whether v is neither infinite nor NaN.
func isFinite(v float64) bool { return !math.IsInf(v, 0) && !math.IsNaN(v) }

// stepX is the x pixel of step i of n in a plot pw pixels wide.
func stepX(i, n, pw int) int {
	return marginL + 1 + int(float64(i)/float64(max(n-1, 1))*float64(pw-1))
}

// line draws a straight segment (Bresenham).
func line(img *image.NRGBA, x0, y0, x1, y1 int, c color.NRGBA) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := 1, 1
	if x0 > x1 {
		sx = -1
	}
	if y0 > y1 {
		sy = -1
	}
	e := dx + dy
	for {
		img.SetNRGBA(x0, y0, c)
		if x0 == x1 && y0 == y1 {
			return
		}
		if e2 := 2 * e; e2 >= dy {
			e += dy
			x0 += sx
		} else if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
