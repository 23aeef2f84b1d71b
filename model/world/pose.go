package world

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Poses are joint angles in degrees in the picture plane: 0 points down, 90
// to the figure's front in profile (or its right-hand side of the picture in
// front view, +x), 180 up. Index 0 of arms and legs is the near (profile) or
// picture-right (front) limb, index 1 the far or picture-left one.

// limb holds the directions of a limb's upper and lower segment.
type limb [2]float64

// Reach targets for hands, solved with two-bone inverse kinematics.
const (
	reachNone  = iota
	reachChest // hands together in front of the chest
	reachBrow  // fingertips at the brow, elbow out (salute)
	reachKnee  // hand on the knee of its side (meditate)
	reachHip   // fist on the hip, elbow out (akimbo)
)

// reach is an IK target for one hand.
type reach struct {
	to  int
	off vec // extra offset from the target, body units
}

// pose is one action's skeleton configuration.
type pose struct {
	side   bool // profile view facing +x; else front view
	torso  float64
	head   float64
	arms   [2]limb
	legs   [2]limb
	reach  [2]reach
	lift   float64 // body units above the ground (jump)
	palm   int     // arm showing an open palm turned up, -1 for none
	finger int     // arm pointing a finger, -1 for none
}

// jitterDeg is the largest random change of a joint angle.
const jitterDeg = 6

// poseFor draws the pose of action with jitter from rng.
func poseFor(action string, rng *rand.Rand) (pose, error) {
	j := func(deg float64) float64 { return deg + uniform(rng, -jitterDeg, jitterDeg) }
	jl := func(a, b float64) limb { return limb{j(a), j(b)} }
	p := pose{torso: j(180), head: j(180), palm: -1, finger: -1}
	standLegs := [2]limb{jl(5, 2), jl(-5, -2)}
	relaxedArms := [2]limb{jl(12, 6), jl(-12, -6)}
	switch action {
	case "stand":
		p.arms, p.legs = relaxedArms, standLegs
	case "walk":
		p.side = true
		p.torso = j(178)
		p.arms = [2]limb{jl(-28, -12), jl(28, 48)}
		p.legs = [2]limb{jl(24, 6), jl(-20, -42)}
	case "run":
		p.side = true
		p.torso, p.head = j(162), j(168)
		p.arms = [2]limb{jl(-50, 40), jl(55, 140)}
		p.legs = [2]limb{jl(70, 10), jl(-40, -110)}
		p.lift = uniform(rng, 0.06, 0.1)
	case "wave":
		p.arms = [2]limb{jl(112, 172), jl(-12, -6)}
		p.legs = standLegs
	case "jump":
		p.arms = [2]limb{jl(100, 115), jl(-100, -115)}
		p.legs = [2]limb{jl(40, -12), jl(-40, 12)}
		p.lift = uniform(rng, 0.16, 0.22)
	case "lie":
		p.side = true
		p.torso, p.head = j(90), j(92)
		p.arms = [2]limb{jl(-84, -88), jl(-96, -92)}
		p.legs = [2]limb{jl(-92, -90), jl(-88, -90)}
	case "kneel":
		p.side = true
		p.arms = [2]limb{jl(35, 85), jl(-6, 0)}
		p.legs = [2]limb{jl(88, 0), jl(2, -90)}
	case "point":
		p.arms = [2]limb{jl(128, 128), jl(-45, 40)}
		p.reach[1] = reach{to: reachHip}
		p.legs = standLegs
		p.finger = 0
	case "cheer":
		p.arms = [2]limb{jl(152, 158), jl(-152, -158)}
		p.legs = [2]limb{jl(10, 6), jl(-10, -6)}
	case "gesture":
		p.arms = [2]limb{jl(92, 90), jl(-10, -4)}
		p.legs = standLegs
		p.palm = 0
	case "handstand":
		p.torso, p.head = j(0), j(0)
		p.arms = [2]limb{jl(-10, -8), jl(10, 8)}
		p.legs = [2]limb{jl(-174, -178), jl(174, 178)}
	case "meditate":
		p.arms = relaxedArms
		p.reach = [2]reach{{to: reachKnee}, {to: reachKnee}}
		p.legs = [2]limb{jl(76, -72), jl(-76, 72)}
	case "pray":
		p.side = true
		p.head = j(160)
		p.arms = [2]limb{jl(20, 150), jl(20, 150)}
		p.reach = [2]reach{{to: reachChest}, {to: reachChest, off: vec{0, 0.01}}}
		p.legs = [2]limb{jl(3, -90), jl(-3, -92)}
	case "salute":
		p.arms = [2]limb{jl(110, -140), jl(-6, -3)}
		p.reach[0] = reach{to: reachBrow}
		p.legs = [2]limb{jl(2, 0), jl(-2, 0)}
	case "sit":
		p.side = true
		p.torso, p.head = j(192), j(186)
		p.arms = [2]limb{jl(-28, -28), jl(-34, -34)}
		p.legs = [2]limb{jl(90, 90), jl(86, 88)}
	case "squat":
		p.side = true
		p.torso, p.head = j(150), j(170)
		p.arms = [2]limb{jl(88, 90), jl(82, 86)}
		p.legs = [2]limb{jl(90, -18), jl(84, -22)}
	default:
		return pose{}, fmt.Errorf("world: unknown action %q (want one of %v)", action, Actions())
	}
	return p, nil
}

// skeleton holds the joint positions of a posed body, body units, pelvis at
// the origin.
type skeleton struct {
	pelvis, neck, head                     vec
	shoulder, elbow, hand, hip, knee, foot [2]vec
	up                                     vec // unit direction pelvis -> neck
	right                                  vec // unit, across the torso (front view +x)
}

// skeleton runs forward kinematics of p on body b, then places reaching
// hands by inverse kinematics.
func (b *body) skeleton(p pose) skeleton {
	var s skeleton
	s.up = dir(p.torso)
	s.right = s.up.perp()
	s.neck = s.up.mul(b.torso)
	s.head = s.neck.add(dir(p.head).mul(b.neck + b.headR))
	sw, hw := b.shoulderW, b.hipW
	if p.side {
		sw, hw = sw*0.15, hw*0.15
	}
	for i := range 2 {
		sign := 1.0 - 2*float64(i)
		s.shoulder[i] = s.neck.sub(s.up.mul(b.torso * 0.12)).add(s.right.mul(sign * sw))
		s.elbow[i] = s.shoulder[i].add(dir(p.arms[i][0]).mul(b.upperArm))
		s.hand[i] = s.elbow[i].add(dir(p.arms[i][1]).mul(b.foreArm))
		s.hip[i] = s.right.mul(sign * hw)
		s.knee[i] = s.hip[i].add(dir(p.legs[i][0]).mul(b.thigh))
		s.foot[i] = s.knee[i].add(dir(p.legs[i][1]).mul(b.shin))
	}
	for i := range 2 {
		sign := 1.0 - 2*float64(i)
		var target, bend vec
		switch p.reach[i].to {
		case reachNone:
			continue
		case reachChest:
			target = s.neck.sub(s.up.mul(b.torso * 0.3)).add(s.up.perp().mul(b.torsoR + 0.06))
			bend = vec{-0.4, 1}
		case reachBrow:
			fwd := s.up.perp().mul(sign)
			target = s.head.add(fwd.mul(b.headR * 0.55)).add(s.up.mul(b.headR * 0.35))
			bend = fwd.add(s.up.mul(-0.3))
		case reachKnee:
			target = s.knee[i].add(s.up.mul(b.legR))
			bend = s.right.mul(sign)
		case reachHip:
			target = s.hip[i].add(s.right.mul(sign * (b.torsoR * 0.8))).add(s.up.mul(b.torso * 0.1))
			bend = s.right.mul(sign)
		}
		target = target.add(p.reach[i].off)
		s.elbow[i], s.hand[i] = solveTwoBone(s.shoulder[i], target, b.upperArm, b.foreArm, bend)
	}
	return s
}

// solveTwoBone places the middle joint of a chain root -(l1)- mid -(l2)- end
// so that end reaches target (or points at it when out of reach), bending
// towards bend. It returns mid and end.
func solveTwoBone(root, target vec, l1, l2 float64, bend vec) (vec, vec) {
	d := target.sub(root)
	dist := min(max(d.length(), math.Abs(l1-l2)+1e-3), l1+l2-1e-4)
	u := d.unit()
	c := (float64(l1*l1) + float64(dist*dist) - float64(l2*l2)) / float64(2*l1*dist)
	// Quantised to the trig table's 1/16 degree so the angle is the same everywhere.
	a := math.Round(math.Acos(min(max(c, -1), 1))*180/math.Pi*16) / 16
	best := vec{}
	bestScore := math.Inf(-1)
	for _, sgn := range []float64{1, -1} {
		cs, sn := cosDeg(a), sinDeg(sgn*a)
		r := vec{float64(u.x*cs) - float64(u.y*sn), float64(u.x*sn) + float64(u.y*cs)}
		mid := root.add(r.mul(l1))
		if score := mid.sub(root).dot(bend); score > bestScore {
			best, bestScore = mid, score
		}
	}
	end := root.add(u.mul(dist))
	return best, best.add(end.sub(best).unit().mul(l2))
}
