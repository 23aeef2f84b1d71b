package world

import (
	"image"
	"math"
)

// The rasteriser draws anti-aliased shapes from their signed distance: a
// pixel is covered by clamp(0.5 - d, 0, 1), d being the distance in pixels
// from its centre to the shape's edge (negative inside). All geometry goes
// through the explicit float64 conversions of vec's methods, which the Go
// spec says forbid fused multiply-adds, and coordinates are rounded to 1/64
// pixel before drawing, so a render's bytes do not depend on the machine.

// vec is a 2-D point or direction; y grows downwards as in images.
type vec struct{ x, y float64 }

func (a vec) add(b vec) vec             { return vec{a.x + b.x, a.y + b.y} }
func (a vec) sub(b vec) vec             { return vec{a.x - b.x, a.y - b.y} }
func (a vec) mul(k float64) vec         { return vec{float64(a.x * k), float64(a.y * k)} }
func (a vec) dot(b vec) float64         { return float64(a.x*b.x) + float64(a.y*b.y) }
func (a vec) length() float64           { return math.Sqrt(a.dot(a)) }
func (a vec) perp() vec                 { return vec{-a.y, a.x} }
func (a vec) lerp(b vec, t float64) vec { return a.add(b.sub(a).mul(t)) }

// unit is a scaled to length 1 (the zero vector stays zero).
func (a vec) unit() vec {
	l := a.length()
	if l == 0 {
		return a
	}
	return vec{a.x / l, a.y / l}
}

// snap rounds a coordinate to 1/64 pixel.
func snap(v float64) float64 { return math.Round(v*64) / 64 }

// sinTable holds sin at every 1/16 degree, rounded to 2^-30, so that trig
// gives the same bits everywhere (math.Sin's last bit may not).
var sinTable = func() []float64 {
	t := make([]float64, 360*16)
	for i := range t {
		t[i] = math.Round(math.Sin(float64(i)*math.Pi/(180*16))*(1<<30)) / (1 << 30)
	}
	return t
}()

// sinDeg is sin of deg degrees, deg rounded to 1/16 degree.
func sinDeg(deg float64) float64 {
	i := int(math.Round(deg*16)) % len(sinTable)
	if i < 0 {
		i += len(sinTable)
	}
	return sinTable[i]
}

// cosDeg is cos of deg degrees, deg rounded to 1/16 degree.
func cosDeg(deg float64) float64 { return sinDeg(deg + 90) }

// dir is the unit direction at deg degrees: 0 points down, 90 right (+x),
// 180 up and -90 left.
func dir(deg float64) vec { return vec{sinDeg(deg), cosDeg(deg)} }

// shape is a capsule (segment a-b, radius ra at a growing linearly to rb at
// b; a circle when a == b) or, with box set, a rounded rectangle whose axis
// runs from a to b, ra its half-width across the axis and rb its corner
// radius.
type shape struct {
	a, b   vec
	ra, rb float64
	box    bool
	col    rgb
	alpha  float64 // opacity in (0, 1]; 0 means 1
}

// capsule is the capsule from a (radius ra) to b (radius rb) in col; a
// circle when a == b.
func capsule(a, b vec, ra, rb float64, col rgb) shape {
	return shape{a: a, b: b, ra: ra, rb: rb, col: col}
}

// roundedBox is the rounded rectangle whose axis runs from a to b, hw its
// half-width across the axis and r its corner radius, in col.
func roundedBox(a, b vec, hw, r float64, col rgb) shape {
	return shape{a: a, b: b, ra: hw, rb: r, box: true, col: col}
}

// inflate grows s by w pixels on every side.
func (s shape) inflate(w float64) shape {
	s.ra += w
	s.rb += w
	return s
}

// canvas is an opaque NRGBA image being drawn.
type canvas struct {
	img  *image.NRGBA
	size int
}

func newCanvas(size int) *canvas {
	return &canvas{img: image.NewNRGBA(image.Rect(0, 0, size, size)), size: size}
}

// blend mixes col into pixel (x, y) with coverage cov in [0, 1].
func (c *canvas) blend(x, y int, col rgb, cov float64) {
	a := int(float64(cov*255) + 0.5)
	if a <= 0 {
		return
	}
	p := c.img.Pix[y*c.img.Stride+4*x:]
	if a >= 255 {
		p[0], p[1], p[2], p[3] = col.r, col.g, col.b, 255
		return
	}
	p[0] = uint8(int(p[0]) + (int(col.r)-int(p[0]))*a/255)
	p[1] = uint8(int(p[1]) + (int(col.g)-int(p[1]))*a/255)
	p[2] = uint8(int(p[2]) + (int(col.b)-int(p[2]))*a/255)
	p[3] = 255
}

// set writes an opaque pixel.
func (c *canvas) set(x, y int, col rgb) {
	p := c.img.Pix[y*c.img.Stride+4*x:]
	p[0], p[1], p[2], p[3] = col.r, col.g, col.b, 255
}

// draw rasterises s over the pixels its bounds touch.
func (c *canvas) draw(s shape) {
	s.a = vec{snap(s.a.x), snap(s.a.y)}
	s.b = vec{snap(s.b.x), snap(s.b.y)}
	s.ra, s.rb = snap(s.ra), snap(s.rb)
	r := max(s.ra, s.rb)
	x0 := max(0, int(math.Floor(min(s.a.x, s.b.x)-r-1)))
	y0 := max(0, int(math.Floor(min(s.a.y, s.b.y)-r-1)))
	x1 := min(c.size, int(math.Ceil(max(s.a.x, s.b.x)+r+1)))
	y1 := min(c.size, int(math.Ceil(max(s.a.y, s.b.y)+r+1)))
	alpha := s.alpha
	if alpha == 0 {
		alpha = 1
	}
	e := s.b.sub(s.a)
	l2 := e.dot(e)
	// Box frame: centre, unit axis, half-length and half-width of the core.
	mid := s.a.lerp(s.b, 0.5)
	u := e.unit()
	if s.box && l2 == 0 {
		u = vec{1, 0}
	}
	hl := float64(math.Sqrt(l2)*0.5) - s.rb
	hw := s.ra - s.rb
	for y := y0; y < y1; y++ {
		py := float64(y) + 0.5
		for x := x0; x < x1; x++ {
			p := vec{float64(x) + 0.5, py}
			var d float64
			if s.box {
				q := p.sub(mid)
				qx := math.Abs(q.dot(u)) - hl
				qy := math.Abs(q.dot(u.perp())) - hw
				out := vec{max(qx, 0), max(qy, 0)}
				d = out.length() + min(max(qx, qy), 0) - s.rb
			} else {
				q := p.sub(s.a)
				t := 0.0
				if l2 > 0 {
					t = min(max(q.dot(e)/l2, 0), 1)
				}
				d = q.sub(e.mul(t)).length() - (s.ra + float64(t*(s.rb-s.ra)))
			}
			cov := 0.5 - d
			if cov <= 0 {
				continue
			}
			c.blend(x, y, s.col, float64(min(cov, 1)*alpha))
		}
	}
}

// shade scales a colour's channels by k (darker below 1), clamped.
func (c rgb) shade(k float64) rgb {
	f := func(v uint8) uint8 { return uint8(min(max(float64(float64(v)*k)+0.5, 0), 255)) }
	return rgb{f(c.r), f(c.g), f(c.b)}
}

// mix is the colour t of the way from c to d.
func (c rgb) mix(d rgb, t float64) rgb {
	f := func(a, b uint8) uint8 { return uint8(float64(a) + float64(t*(float64(b)-float64(a))) + 0.5) }
	return rgb{f(c.r, d.r), f(c.g, d.g), f(c.b, d.b)}
}
