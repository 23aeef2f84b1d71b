package world

import "slices"

// body holds a kind's proportions in body units (a standing figure is about
// one unit tall) and the look of its parts.
type body struct {
	torso, neck, headR   float64 // lengths: pelvis to neck, neck, head radius
	upperArm, foreArm    float64
	thigh, shin          float64
	shoulderW, hipW      float64 // half-distance between shoulders, hips (front view)
	torsoR, armR, legR   float64 // part radii (torsoR: half-width of a box torso)
	boxy                 bool    // robot: rectangular torso and head, joint rivets
	ears                 int     // earsNone, earsPointed, earsRound
	tail                 int     // tailNone, tailLong, tailStub
	muzzle               float64 // radius of the light muzzle in head radii, 0 for none
	belly, hair, antenna bool
	shoes, eye           bool
}

const (
	earsNone = iota
	earsPointed
	earsRound
)

const (
	tailNone = iota
	tailLong
	tailStub
)

// bodies are the proportions of each of Kinds.
var bodies = map[string]*body{
	"person": {torso: 0.30, neck: 0.035, headR: 0.075, upperArm: 0.15, foreArm: 0.14, thigh: 0.22, shin: 0.21,
		shoulderW: 0.085, hipW: 0.045, torsoR: 0.062, armR: 0.026, legR: 0.034, hair: true, shoes: true, eye: true},
	"robot": {torso: 0.30, neck: 0.05, headR: 0.095, upperArm: 0.14, foreArm: 0.14, thigh: 0.19, shin: 0.19,
		shoulderW: 0.115, hipW: 0.06, torsoR: 0.105, armR: 0.022, legR: 0.028, boxy: true, antenna: true},
	"cat": {torso: 0.27, neck: 0.03, headR: 0.082, upperArm: 0.13, foreArm: 0.13, thigh: 0.2, shin: 0.2,
		shoulderW: 0.07, hipW: 0.04, torsoR: 0.055, armR: 0.023, legR: 0.03, ears: earsPointed, tail: tailLong, muzzle: 0.38, eye: true},
	"bear": {torso: 0.28, neck: 0.02, headR: 0.092, upperArm: 0.14, foreArm: 0.12, thigh: 0.18, shin: 0.17,
		shoulderW: 0.09, hipW: 0.055, torsoR: 0.095, armR: 0.046, legR: 0.055, ears: earsRound, tail: tailStub, muzzle: 0.46, belly: true, eye: true},
}

// part is a shape with or without its own outline.
type part struct {
	shape
	outline bool
}

// look holds the colours of one figure.
type look struct {
	skin, shirt, trousers rgb
}

var (
	hairRGB  = rgb{62, 42, 30}
	shoeRGB  = rgb{50, 50, 55}
	eyeRGB   = rgb{20, 20, 25}
	rivetRGB = rgb{90, 92, 100}
	visorRGB = rgb{150, 230, 240}
	noseRGB  = rgb{40, 30, 30}
	lightRGB = rgb{250, 240, 225}
)

// rotate turns v by deg degrees (clockwise on screen, y down).
func rotate(v vec, deg float64) vec {
	c, s := cosDeg(deg), sinDeg(deg)
	return vec{float64(v.x*c) - float64(v.y*s), float64(v.x*s) + float64(v.y*c)}
}

// parts lists the shapes of a figure posed as sk, back to front, in body
// units.
func (b *body) parts(p pose, sk skeleton, lk look) []part {
	var out []part
	add := func(s shape, outline bool) { out = append(out, part{s, outline}) }
	fwd := sk.up.perp() // facing direction in profile; picture right in front view
	back := fwd.mul(-1)

	// Tail, behind everything.
	toWorld := func(along, upward float64) vec { return sk.pelvis.add(back.mul(along)).add(sk.up.mul(upward)) }
	switch b.tail {
	case tailLong:
		pts := []vec{toWorld(0.03, 0.02), toWorld(0.14, -0.01), toWorld(0.22, 0.06), toWorld(0.24, 0.17)}
		for i := 0; i+1 < len(pts); i++ {
			add(capsule(pts[i], pts[i+1], b.legR*0.6, b.legR*0.5, lk.skin), true)
		}
	case tailStub:
		c := toWorld(b.torsoR*0.9, 0.02)
		add(capsule(c, c, b.legR*0.7, b.legR*0.7, lk.skin), true)
	}

	limbParts := func(i int, shade float64) (arm, leg []part) {
		sign := 1.0 - 2*float64(i)
		var a, l []part
		ra, rl := b.armR, b.legR
		a = append(a, part{capsule(sk.shoulder[i], sk.elbow[i], ra*1.1, ra, lk.shirt.shade(shade)), true})
		a = append(a, part{capsule(sk.elbow[i], sk.hand[i], ra, ra*0.9, lk.skin.shade(shade)), true})
		if b.boxy {
			a = append(a, part{capsule(sk.elbow[i], sk.elbow[i], ra*0.75, ra*0.75, rivetRGB), false})
		}
		hand := capsule(sk.hand[i], sk.hand[i], ra*1.25, ra*1.25, lk.skin.shade(shade))
		if p.palm == i { // open palm, fingers up
			fa := sk.elbow[i].sub(sk.hand[i]).unit()
			up := fa.perp()
			if up.y > 0 {
				up = up.mul(-1)
			}
			hand = capsule(sk.hand[i].add(fa.mul(ra*0.4)), sk.hand[i].add(up.mul(ra*3.2)), ra*1.2, ra*1.05, lk.skin.shade(shade))
		}
		a = append(a, part{hand, true})
		if p.finger == i {
			fa := sk.hand[i].sub(sk.elbow[i]).unit()
			a = append(a, part{capsule(sk.hand[i], sk.hand[i].add(fa.mul(ra*3)), ra*0.55, ra*0.45, lk.skin.shade(shade)), true})
		}
		l = append(l, part{capsule(sk.hip[i], sk.knee[i], rl*1.1, rl, lk.trousers.shade(shade)), true})
		l = append(l, part{capsule(sk.knee[i], sk.foot[i], rl, rl*0.9, lk.trousers.shade(shade)), true})
		if b.boxy {
			l = append(l, part{capsule(sk.knee[i], sk.knee[i], rl*0.7, rl*0.7, rivetRGB), false})
		}
		shin := sk.foot[i].sub(sk.knee[i]).unit()
		toe := shin.perp()
		out := fwd
		if !p.side {
			out = sk.right.mul(sign)
		}
		if toe.dot(out) < 0 {
			toe = toe.mul(-1)
		}
		footCol := lk.skin
		if b.shoes {
			footCol = shoeRGB
		}
		l = append(l, part{capsule(sk.foot[i], sk.foot[i].add(toe.mul(rl*1.4)), rl*0.95, rl*0.8, footCol.shade(shade)), true})
		return a, l
	}
	const farShade = 0.78
	arm0, leg0 := limbParts(0, 1)
	var arm1, leg1 []part
	if p.side {
		arm1, leg1 = limbParts(1, farShade)
		out = append(out, arm1...)
		out = append(out, leg1...)
		out = append(out, leg0...)
	} else {
		arm1, leg1 = limbParts(1, 1)
		out = append(out, leg0...)
		out = append(out, leg1...)
	}

	// Torso and neck.
	add(capsule(sk.neck, sk.head, b.armR*0.9, b.armR*0.9, lk.skin), false)
	chest := sk.neck.sub(sk.up.mul(b.torsoR * 0.5))
	if b.boxy {
		hw := b.torsoR
		if p.side {
			hw *= 0.75
		}
		add(roundedBox(sk.pelvis.sub(sk.up.mul(0.02)), sk.neck, hw, hw*0.25, lk.shirt), true)
		add(roundedBox(chest.sub(sk.up.mul(0.05)), chest.sub(sk.up.mul(0.05)), hw*0.3, hw*0.3, visorRGB), false)
	} else {
		rb := b.torsoR
		if p.side {
			rb *= 0.85
		}
		add(capsule(sk.pelvis, chest, rb*0.95, rb, lk.shirt), true)
		if b.belly {
			add(capsule(sk.pelvis.add(sk.up.mul(b.torso*0.3)), sk.pelvis.add(sk.up.mul(b.torso*0.3)), rb*0.6, rb*0.6, lk.skin.mix(lightRGB, 0.45)), false)
		}
	}
	if p.side {
		out = append(out, arm0...)
	} else {
		out = append(out, arm0...)
		out = append(out, arm1...)
	}

	// Head and its features, in the head's own frame.
	hu := sk.head.sub(sk.neck).unit() // head's up
	hf := hu.perp()                   // head's forward (profile) or picture right
	if hf.dot(fwd) < 0 {
		hf = hf.mul(-1)
	}
	R := b.headR
	at := func(f, u float64) vec { return sk.head.add(hf.mul(f * R)).add(hu.mul(u * R)) }
	switch b.ears {
	case earsPointed:
		for _, s := range []float64{1, -1} {
			base, tip := rotate(hu, s*40), rotate(hu, s*22)
			add(capsule(sk.head.add(base.mul(R*0.6)), sk.head.add(tip.mul(R*1.6)), R*0.42, R*0.05, lk.skin), true)
		}
	case earsRound:
		for _, s := range []float64{1, -1} {
			c := sk.head.add(rotate(hu, s*45).mul(R * 0.9))
			add(capsule(c, c, R*0.4, R*0.4, lk.skin), true)
			add(capsule(c, c, R*0.2, R*0.2, lk.skin.mix(lightRGB, 0.45)), false)
		}
	}
	if b.hair {
		add(capsule(at(-0.1, 0.2), at(-0.1, 0.2), R*1.0, R*1.0, hairRGB), true)
	}
	if b.boxy {
		add(roundedBox(at(0, -0.9), at(0, 0.9), R*0.95, R*0.2, lk.skin), true)
		if p.side {
			add(roundedBox(at(0.45, 0.05), at(0.45, 0.35), R*0.45, R*0.1, visorRGB), false)
		} else {
			add(roundedBox(at(-0.55, 0.15), at(0.55, 0.15), R*0.2, R*0.1, visorRGB), false)
		}
		if b.antenna {
			add(capsule(at(0, 0.9), at(0, 1.75), R*0.1, R*0.1, rivetRGB), false)
			add(capsule(at(0, 1.85), at(0, 1.85), R*0.28, R*0.28, rivetRGB), false)
		}
	} else {
		head := capsule(sk.head, sk.head, R, R, lk.skin)
		if b.hair {
			head = capsule(at(0, -0.08), at(0, -0.08), R*0.92, R*0.92, lk.skin)
			add(head, false)
		} else {
			add(head, true)
		}
	}
	if b.muzzle > 0 {
		m := at(0, -0.35)
		mr := R * b.muzzle
		if p.side {
			m = at(0.55, -0.3)
		}
		add(capsule(m, m, mr, mr, lk.skin.mix(lightRGB, 0.55)), false)
		n := m.add(hu.mul(mr * 0.35))
		add(capsule(n, n, mr*0.35, mr*0.35, noseRGB), false)
	}
	if b.eye {
		var eyes []vec
		if p.side {
			eyes = []vec{at(0.45, 0.2)}
		} else {
			eyes = []vec{at(0.38, 0.2), at(-0.38, 0.2)}
		}
		for _, e := range eyes {
			add(capsule(e, e, R*0.13, R*0.13, eyeRGB), false)
		}
	}
	return slices.Clip(out)
}
