package judge

import (
	"fmt"
	"image"
	"math/rand/v2"
	"slices"

	"kata/model/world"
)

// WorldVocabulary is Kata World's vocabulary as the judges' heads see it:
// world.Kinds, world.Colors and world.Actions().
func WorldVocabulary() Vocabulary {
	return Vocabulary{Kinds: slices.Clone(world.Kinds), Colors: slices.Clone(world.Colors), Actions: world.Actions()}
}

// World is the Source of Kata World renders: world.RandomScene drawn at
// Size x Size, labelled with the scene's kind, body colour and action.
type World struct{}

// Vocabulary implements Source.
func (World) Vocabulary() Vocabulary { return WorldVocabulary() }

// Draw implements Source.
func (World) Draw(rng *rand.Rand) (image.Image, Label) {
	s := world.RandomScene(rng)
	l, err := SceneLabel(s)
	if err != nil {
		panic(err) // RandomScene draws from the same lists
	}
	return world.Render(s, Size), l
}

// SceneLabel returns the indexes of s's kind, colour and action in
// WorldVocabulary.
func SceneLabel(s world.Scene) (Label, error) {
	v := WorldVocabulary()
	l := Label{Kind: slices.Index(v.Kinds, s.Kind), Color: slices.Index(v.Colors, s.Color), Action: slices.Index(v.Actions, s.Action)}
	if l.Kind < 0 || l.Color < 0 || l.Action < 0 {
		return Label{}, fmt.Errorf("judge: scene %s %s %s is not in the world's vocabulary", s.Kind, s.Color, s.Action)
	}
	return l, nil
}
