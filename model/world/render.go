package world

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
)

// Streams of a scene's Seed, one per use, so that changing one part of the
// drawing never shifts the randomness of another.
const (
	streamPose = iota + 1
	streamBackground
)

// MinSize is the smallest frame Render draws.
const MinSize = 16

// Render draws s at size x size pixels (64 or 128 are the sizes the world is
// tuned for; anything from MinSize up works). The result is deterministic in
// (s, size): same bytes on every machine. Render panics when s.Validate
// fails or size < MinSize; check scenes from outside the program first.
func Render(s Scene, size int) *image.NRGBA {
	img, err := render(s, size)
	if err != nil {
		panic(err)
	}
	return img
}

// layout is where a figure lands in the frame.
type layout struct {
	parts  []part // in pixels
	bounds [4]float64
	k      float64 // pixels per body unit
}

// figureLayout poses, dresses and places the figure of s in a size x size frame.
func figureLayout(s Scene, size int) (layout, error) {
	p, err := poseFor(s.Action, rand.New(rand.NewPCG(s.Seed, streamPose)))
	if err != nil {
		return layout{}, err
	}
	b := bodies[s.Kind]
	lk := look{skin: bodyRGB[s.Color]}
	lk.shirt, lk.trousers = lk.skin, lk.skin
	if s.Shirt != "" {
		lk.shirt = bodyRGB[s.Shirt]
	}
	if s.Trousers != "" {
		lk.trousers = bodyRGB[s.Trousers]
	}
	parts := b.parts(p, b.skeleton(p), lk)

	// Flip and tilt in body units, then measure.
	tf := func(v vec) vec {
		if s.Flip {
			v.x = -v.x
		}
		return rotate(v, s.Rotation)
	}
	lo, hi := vec{math.Inf(1), math.Inf(1)}, vec{math.Inf(-1), math.Inf(-1)}
	for i := range parts {
		sh := &parts[i].shape
		sh.a, sh.b = tf(sh.a), tf(sh.b)
		r := max(sh.ra, sh.rb)
		if sh.box { // corners of the box reach past ra along the axis too
			r = vec{sh.ra, sh.b.sub(sh.a).length() / 2}.length()
			mid := sh.a.lerp(sh.b, 0.5)
			lo = vec{min(lo.x, mid.x-r), min(lo.y, mid.y-r)}
			hi = vec{max(hi.x, mid.x+r), max(hi.y, mid.y+r)}
			continue
		}
		lo = vec{min(lo.x, sh.a.x-r, sh.b.x-r), min(lo.y, sh.a.y-r, sh.b.y-r)}
		hi = vec{max(hi.x, sh.a.x+r, sh.b.x+r), max(hi.y, sh.a.y+r, sh.b.y+r)}
	}
	n := float64(size)
	scale, cx := s.Scale, s.X
	if scale == 0 {
		scale = DefaultScale
	}
	if cx == 0 {
		cx = DefaultX
	}
	w, h := hi.x-lo.x, hi.y-lo.y
	ground := float64(groundFrac * n)
	margin := float64(0.03*n) + 1
	k := float64(scale * n)
	k = min(k, (n-2*margin)/w, (ground-margin)/(h+p.lift))
	left := float64(cx*n) - float64(w*k)/2
	left = min(max(left, margin), n-margin-float64(w*k))
	bottom := ground - float64(p.lift*k)
	off := vec{left - float64(lo.x*k), bottom - float64(hi.y*k)}
	for i := range parts {
		sh := &parts[i].shape
		sh.a, sh.b = sh.a.mul(k).add(off), sh.b.mul(k).add(off)
		sh.ra, sh.rb = float64(sh.ra*k), float64(sh.rb*k)
	}
	return layout{parts: parts, k: k,
		bounds: [4]float64{left, bottom - float64(h*k), left + float64(w*k), bottom}}, nil
}

func render(s Scene, size int) (*image.NRGBA, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if size < MinSize {
		return nil, fmt.Errorf("world: render size %d below %d", size, MinSize)
	}
	lay, err := figureLayout(s, size)
	if err != nil {
		return nil, err
	}
	c := newCanvas(size)
	bgRNG := rand.New(rand.NewPCG(s.Seed, streamBackground))
	drawBackground(c, s.Background, backRGB[s.BackColor], bgRNG)
	n := float64(size)
	ground := float64(groundFrac * n)
	outline := max(0.55, float64(n/110))

	// Prop on the side with more room, then the figure's contact shadow.
	var scenery []part
	if s.Prop != "" {
		x := float64(n * 0.86)
		if lay.bounds[0]+lay.bounds[2] > n {
			x = float64(n * 0.14)
		}
		scenery = propParts(s.Prop, x, ground, float64(0.75*lay.k))
	}
	l, r := lay.bounds[0], lay.bounds[2]
	mid, half := (l+r)/2, float64((r-l)*0.4)
	scenery = append(scenery, part{shape{a: vec{mid - half, ground}, b: vec{mid + half, ground},
		ra: float64(0.025 * lay.k), rb: float64(0.025 * lay.k), col: rgb{0, 0, 0}, alpha: 0.22}, false})
	for _, p := range slices.Concat(scenery, lay.parts) {
		if p.outline {
			o := p.shape.inflate(outline)
			o.col = p.col.shade(0.42)
			c.draw(o)
		}
		c.draw(p.shape)
	}
	return c.img, nil
}
