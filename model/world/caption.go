package world

import (
	"math/rand/v2"
	"strings"

	"kata/model/placeholder"
)

// Caption templates. {s} is the subject ("a red robot", "a blue person
// wearing a green shirt"), {a} the action phrase (dropped with the space
// before it for benchmark actions), {b} the background in full ("a striped
// light blue background") and {w} in short ("striped light blue
// wallpaper"), {p} the prop clause (", next to a ball" or nothing).
var captionTemplates = []string{
	"a photo of {s} {a} on {b}{p}",
	"{s} {a}, {w}{p}",
	"a picture of {s} {a} in front of {b}{p}",
	"an illustration of {s} {a} against {b}{p}",
	"a drawing of {s} {a}{p}, {w}",
	"{s} {a} on {b}{p}",
	"a cartoon of {s} {a}{p}, {w}",
	"a simple render of {s} {a}, {b}{p}",
}

// backgroundPhrases are the long and short wordings of each of Backgrounds;
// %s is the tint. Several wordings each, for variety.
var backgroundPhrases = map[string][2][]string{
	"plain":    {{"a plain {t} background", "a {t} background"}, {"plain {t} background", "{t} backdrop"}},
	"striped":  {{"a striped {t} background", "a {t} background with stripes"}, {"striped {t} wallpaper", "{t} stripes"}},
	"dotted":   {{"a dotted {t} background", "a {t} background with polka dots"}, {"dotted {t} wallpaper", "{t} polka dots"}},
	"checked":  {{"a checked {t} background", "a {t} checkerboard background"}, {"checkered {t} wallpaper", "{t} checks"}},
	"gradient": {{"a {t} gradient background", "a softly shaded {t} background"}, {"{t} gradient", "shaded {t} backdrop"}},
	"floor":    {{"a {t} backdrop with a floor", "a {t} studio floor and wall"}, {"{t} studio", "{t} wall and floor"}},
}

// propPhrases introduce a prop.
var propPhrases = []string{", next to a {x}", ", beside a {x}", " with a {x} nearby"}

// article is "an" before a vowel sound, else "a".
func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// Subject describes the figure of s: "a red robot", "an orange person
// wearing a blue shirt and green trousers".
func Subject(s Scene) string {
	out := article(s.Color) + " " + s.Color + " " + s.Kind
	switch {
	case s.Shirt != "" && s.Trousers != "":
		out += " wearing a " + s.Shirt + " shirt and " + s.Trousers + " trousers"
	case s.Shirt != "":
		out += " wearing a " + s.Shirt + " shirt"
	case s.Trousers != "":
		out += " in " + s.Trousers + " trousers"
	}
	return out
}

// Template describes s with placeholder.Slot ("{}") where the action phrase
// goes, the ActionBench caption-template form (text.json): "a photo of a red
// robot {} on a striped light blue background". It names no action, whichever
// s.Action is; rng picks the wording.
func Template(s Scene, rng *rand.Rand) string {
	return fillCaption(captionTemplates[rng.IntN(len(captionTemplates))], s, placeholder.Slot, rng)
}

// Caption describes s in words from varied templates (rng picks one and its
// wording): subject, background and prop, and the action when it is one of
// CommonActions ("a photo of a red robot waving on a striped light blue
// background"). A benchmark action is never named: its captions describe
// only the subject and the scene.
func Caption(s Scene, rng *rand.Rand) string {
	action := ""
	if !IsBenchmark(s.Action) {
		action = verbs[s.Action]
	}
	return fillCaption(captionTemplates[rng.IntN(len(captionTemplates))], s, action, rng)
}

// fillCaption fills template t for s with action phrase a ("" drops the slot).
func fillCaption(t string, s Scene, a string, rng *rand.Rand) string {
	ph := backgroundPhrases[s.Background]
	long := strings.ReplaceAll(ph[0][rng.IntN(len(ph[0]))], "{t}", s.BackColor)
	short := strings.ReplaceAll(ph[1][rng.IntN(len(ph[1]))], "{t}", s.BackColor)
	prop := ""
	if s.Prop != "" {
		prop = strings.ReplaceAll(propPhrases[rng.IntN(len(propPhrases))], "{x}", s.Prop)
	}
	if a == "" {
		t = strings.ReplaceAll(t, " {a}", "")
	}
	return strings.NewReplacer("{s}", Subject(s), "{a}", a, "{b}", long, "{w}", short, "{p}", prop).Replace(t)
}
