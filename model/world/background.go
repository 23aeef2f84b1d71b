package world

import (
	"math"
	"math/rand/v2"
)

// groundFrac is the height of the ground line as a fraction of the frame:
// figures stand on it, the floor pattern draws it.
const groundFrac = 0.88

// coverEdge turns a signed distance in pixels (negative inside) into an
// anti-aliased coverage in [0, 1].
func coverEdge(d float64) float64 { return min(max(0.5-d, 0), 1) }

// frac is x minus its floor.
func frac(x float64) float64 { return x - math.Floor(x) }

// drawBackground fills c with the pattern pat tinted by tint; rng sets the
// pattern's phase and angle.
func drawBackground(c *canvas, pat string, tint rgb, rng *rand.Rand) {
	n := float64(c.size)
	dark := tint.shade(0.86)
	phase := rng.Float64()
	switch pat {
	case "plain":
		for y := range c.size {
			for x := range c.size {
				c.set(x, y, tint)
			}
		}
	case "striped":
		period := n / float64(6+rng.IntN(4))
		diagonal := rng.IntN(2) == 0
		for y := range c.size {
			for x := range c.size {
				u := float64(x) + 0.5
				if diagonal {
					u = float64((u + float64(y) + 0.5) * math.Sqrt2 / 2)
				}
				t := frac(u/period + phase)
				// Signed distance to the dark half [0, 0.5) of each period, in pixels.
				a := math.Abs(t - 0.25)
				d := float64((min(a, 1-a) - 0.25) * period)
				c.set(x, y, tint)
				c.blend(x, y, dark, coverEdge(d))
			}
		}
	case "dotted":
		step := n / float64(6+rng.IntN(3))
		r := float64(step * 0.2)
		off := float64(phase * step)
		for y := range c.size {
			for x := range c.size {
				u := frac((float64(x)+0.5+off)/step) - 0.5
				v := frac((float64(y)+0.5+off)/step) - 0.5
				d := vec{float64(u * step), float64(v * step)}.length() - r
				c.set(x, y, tint)
				c.blend(x, y, dark, coverEdge(d))
			}
		}
	case "checked":
		step := n / float64(5+rng.IntN(3))
		off := float64(phase * step)
		for y := range c.size {
			for x := range c.size {
				u := (float64(x) + 0.5 + off) / step
				v := (float64(y) + 0.5 + off) / step
				dark0 := (int(math.Floor(u))+int(math.Floor(v)))%2 == 0
				// Distance to the nearest cell edge, in pixels.
				e := float64(min(0.5-math.Abs(frac(u)-0.5), 0.5-math.Abs(frac(v)-0.5)) * step)
				cov := min(0.5+e, 1) // of the cell's own colour
				if !dark0 {
					cov = 1 - cov
				}
				c.set(x, y, tint)
				c.blend(x, y, dark, cov)
			}
		}
	case "gradient":
		top := tint.mix(rgb{255, 255, 255}, 0.5)
		bottom := tint.shade(0.8)
		if rng.IntN(2) == 0 {
			top, bottom = bottom, top
		}
		for y := range c.size {
			col := top.mix(bottom, (float64(y)+0.5)/n)
			for x := range c.size {
				c.set(x, y, col)
			}
		}
	case "floor":
		floor := tint.shade(0.72)
		line := tint.shade(0.45)
		g := float64(groundFrac * n)
		w := max(0.5, float64(n/128))
		for y := range c.size {
			py := float64(y) + 0.5
			for x := range c.size {
				c.set(x, y, tint)
				c.blend(x, y, floor, coverEdge(g-py))
				c.blend(x, y, line, coverEdge(math.Abs(py-g)-w))
			}
		}
	}
}

// Prop colours: fixed and outside Colors, so that a prop is never read as
// the figure's colour.
var (
	ballRGB  = rgb{60, 170, 170}
	boxRGB   = rgb{196, 160, 110}
	potRGB   = rgb{176, 96, 64}
	leafRGB  = rgb{90, 150, 80}
	poleRGB  = rgb{110, 110, 115}
	shadeRGB = rgb{244, 226, 170}
)

// propParts returns the shapes of prop standing on the ground at x (pixels),
// k pixels per body unit.
func propParts(prop string, x, ground, k float64) []part {
	p := func(a, b vec, ra, rb float64, col rgb) part {
		return part{capsule(a, b, ra, rb, col), true}
	}
	at := func(dx, up float64) vec { return vec{x + float64(dx*k), ground - float64(up*k)} }
	switch prop {
	case "ball":
		return []part{p(at(0, 0.1), at(0, 0.1), 0.1*k, 0.1*k, ballRGB)}
	case "box":
		return []part{{roundedBox(at(0, 0), at(0, 0.26), 0.14*k, 0.02*k, boxRGB), true}}
	case "plant":
		return []part{
			p(at(0, 0.05), at(0, 0.34), 0.012*k, 0.012*k, leafRGB),
			p(at(-0.07, 0.26), at(-0.07, 0.26), 0.07*k, 0.07*k, leafRGB),
			p(at(0.07, 0.3), at(0.07, 0.3), 0.07*k, 0.07*k, leafRGB),
			p(at(0, 0.4), at(0, 0.4), 0.075*k, 0.075*k, leafRGB),
			{roundedBox(at(0, 0), at(0, 0.14), 0.08*k, 0.02*k, potRGB), true},
		}
	case "lamp":
		return []part{
			p(at(-0.08, 0.01), at(0.08, 0.01), 0.015*k, 0.015*k, poleRGB),
			p(at(0, 0), at(0, 0.62), 0.012*k, 0.012*k, poleRGB),
			p(at(0, 0.64), at(0, 0.76), 0.1*k, 0.06*k, shadeRGB),
		}
	}
	return nil
}
