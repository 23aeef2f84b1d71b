package world

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Scene is everything that determines one render: plain data, comparable,
// so it can key maps and be stored with a picture. Render(s, size) gives the
// same pixels for the same s and size on every machine.
type Scene struct {
	Kind   string // one of Kinds
	Color  string // body colour, one of Colors
	Action string // one of Actions()

	// Shirt and Trousers are clothing colours from Colors, "" for none.
	// Only ClothingKinds wear clothes.
	Shirt, Trousers string

	Background string // pattern, one of Backgrounds
	BackColor  string // tint, one of BackColors
	Prop       string // object beside the figure, one of Props or "" for none

	// Seed draws the pose jitter, the pattern's phase and the prop's colour.
	Seed uint64
	// Scale is the figure's standing height as a fraction of the frame,
	// in [0.35, 0.85]; 0 means 0.65. Poses that would leave the frame shrink.
	Scale float64
	// X is the figure's horizontal centre as a fraction of the frame width,
	// in [0.2, 0.8]; 0 means 0.5. It moves inward if the figure would leave.
	X float64
	// Rotation tilts the figure by degrees, in [-15, 15], positive clockwise.
	Rotation float64
	// Flip mirrors the figure left to right (profile poses then face left).
	Flip bool
}

// Default figure placement when Scene.Scale or Scene.X is zero.
const (
	DefaultScale = 0.65
	DefaultX     = 0.5
)

// Validate reports the first field of s that names nothing the world knows
// or lies outside its range.
func (s Scene) Validate() error {
	check := func(field, v string, list []string, empty bool) error {
		if (empty && v == "") || slices.Contains(list, v) {
			return nil
		}
		return fmt.Errorf("world: scene %s %q is not one of %q", field, v, list)
	}
	if err := errors.Join(
		check("kind", s.Kind, Kinds, false),
		check("color", s.Color, Colors, false),
		check("action", s.Action, Actions(), false),
		check("shirt", s.Shirt, Colors, true),
		check("trousers", s.Trousers, Colors, true),
		check("background", s.Background, Backgrounds, false),
		check("back color", s.BackColor, BackColors, false),
		check("prop", s.Prop, Props, true),
	); err != nil {
		return err
	}
	if (s.Shirt != "" || s.Trousers != "") && !slices.Contains(ClothingKinds, s.Kind) {
		return fmt.Errorf("world: a %s wears no clothes (only %v do)", s.Kind, ClothingKinds)
	}
	if s.Scale != 0 && (s.Scale < 0.35 || s.Scale > 0.85) {
		return fmt.Errorf("world: scene scale %g outside [0.35, 0.85]", s.Scale)
	}
	if s.X != 0 && (s.X < 0.2 || s.X > 0.8) {
		return fmt.Errorf("world: scene x %g outside [0.2, 0.8]", s.X)
	}
	if s.Rotation < -15 || s.Rotation > 15 {
		return fmt.Errorf("world: scene rotation %g outside [-15, 15] degrees", s.Rotation)
	}
	return nil
}

// uniform is a uniform float in [lo, hi), computed without fused
// multiply-adds so that it is the same on every machine.
func uniform(rng *rand.Rand, lo, hi float64) float64 { return lo + float64((hi-lo)*rng.Float64()) }

// pick is a uniform element of list.
func pick(rng *rand.Rand, list []string) string { return list[rng.IntN(len(list))] }

// RandomScene draws a scene: kind, colour, action, background pattern and
// tint uniform over their lists; people wear a shirt and trousers half of the
// time each (uniform colours); a prop one time in three; scale in
// [0.5, 0.78], x in [0.35, 0.65], rotation in [-8, 8] degrees, flip one time
// in two, and a fresh Seed.
func RandomScene(rng *rand.Rand) Scene {
	s := Scene{
		Kind:       pick(rng, Kinds),
		Color:      pick(rng, Colors),
		Action:     pick(rng, Actions()),
		Background: pick(rng, Backgrounds),
		BackColor:  pick(rng, BackColors),
	}
	if slices.Contains(ClothingKinds, s.Kind) {
		if rng.IntN(2) == 0 {
			s.Shirt = pick(rng, Colors)
		}
		if rng.IntN(2) == 0 {
			s.Trousers = pick(rng, Colors)
		}
	}
	if rng.IntN(3) == 0 {
		s.Prop = pick(rng, Props)
	}
	s.Seed = rng.Uint64()
	s.Scale = uniform(rng, 0.5, 0.78)
	s.X = uniform(rng, 0.35, 0.65)
	s.Rotation = uniform(rng, -8, 8)
	s.Flip = rng.IntN(2) == 0
	return s
}
