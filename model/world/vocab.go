// Package world is Kata World: a procedural world of articulated figures
// performing actions, drawn deterministically in pure Go, with the captions
// that describe its pictures and the ActionBench-style exemplar sets built
// from it. Kata trains its built-in model on these renders and measures
// action identifiers against them.
//
// Every name the world knows lives in this file (Kinds, Colors, actions,
// backgrounds, props); captions, renders and judges read these lists only.
package world

import (
	"fmt"
	"slices"
)

// Kinds are the subject kinds. Every kind shares one biped skeleton, so every
// kind performs every action.
var Kinds = []string{"person", "robot", "cat", "bear"}

// Colors are the named body colours; each is a single CLIP token.
var Colors = []string{"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "white", "black"}

// CommonActions are the poses captions name (in their -ing form, see Verb).
var CommonActions = []string{"stand", "walk", "run", "wave", "jump", "lie", "kneel", "point"}

// BenchmarkActions are ActionBench's eight actions. Renders show them;
// captions never name them (Caption describes only subject and background).
var BenchmarkActions = []string{"cheer", "gesture", "handstand", "meditate", "pray", "salute", "sit", "squat"}

// Actions returns CommonActions followed by BenchmarkActions, a new slice.
func Actions() []string { return slices.Concat(CommonActions, BenchmarkActions) }

// Backgrounds are the background patterns; BackColors tint them.
var Backgrounds = []string{"plain", "striped", "dotted", "checked", "gradient", "floor"}

// BackColors are the background tints, pale so that figures stand out.
var BackColors = []string{"white", "grey", "beige", "light blue", "light green", "light pink", "light yellow", "lavender"}

// Props are the optional objects beside the figure ("" means none).
var Props = []string{"ball", "box", "plant", "lamp"}

// ClothingKinds are the kinds that can wear a shirt and trousers.
var ClothingKinds = []string{"person"}

// rgb is an opaque colour.
type rgb struct{ r, g, b uint8 }

// bodyRGB holds the drawing colour of each name in Colors (also used for
// clothing).
var bodyRGB = map[string]rgb{
	"red":    {214, 40, 40},
	"orange": {245, 130, 20},
	"yellow": {240, 205, 30},
	"green":  {50, 160, 60},
	"blue":   {40, 90, 215},
	"purple": {130, 55, 175},
	"pink":   {240, 120, 180},
	"brown":  {125, 80, 45},
	"white":  {245, 245, 240},
	"black":  {35, 35, 40},
}

// backRGB holds the base tint of each name in BackColors.
var backRGB = map[string]rgb{
	"white":        {246, 246, 244},
	"grey":         {196, 198, 200},
	"beige":        {232, 218, 190},
	"light blue":   {190, 215, 240},
	"light green":  {200, 232, 196},
	"light pink":   {244, 208, 220},
	"light yellow": {246, 238, 188},
	"lavender":     {216, 206, 238},
}

// verbs are the -ing forms of every action. Only CommonActions' forms ever
// reach Caption; the benchmark ones serve exemplar sets (ActionBench's NN.txt
// names the action) and tests.
var verbs = map[string]string{
	"stand": "standing", "walk": "walking", "run": "running", "wave": "waving",
	"jump": "jumping", "lie": "lying down", "kneel": "kneeling", "point": "pointing",
	"cheer": "cheering", "gesture": "gesturing", "handstand": "doing a handstand",
	"meditate": "meditating", "pray": "praying", "salute": "saluting",
	"sit": "sitting", "squat": "squatting",
}

// Verb returns the phrase for action in captions ("wave" -> "waving",
// "handstand" -> "doing a handstand"), or an error for an unknown action.
func Verb(action string) (string, error) {
	v, ok := verbs[action]
	if !ok {
		return "", fmt.Errorf("world: unknown action %q (want one of %v)", action, Actions())
	}
	return v, nil
}

// IsBenchmark reports whether action is one of BenchmarkActions.
func IsBenchmark(action string) bool { return slices.Contains(BenchmarkActions, action) }
