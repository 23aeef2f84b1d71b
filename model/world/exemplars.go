package world

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"kata/model/placeholder"
)

// ExemplarCount is the size of an ActionBench exemplar set.
const ExemplarCount = 10

// Exemplar is one picture of an exemplar set with its captions, as
// ActionBench stores it: Name.png, Name's stem + ".txt" holding Caption, and
// text.json mapping Name to [Template].
type Exemplar struct {
	Name     string // file name: "01.png" ... "10.png"
	Scene    Scene
	Template string // caption with placeholder.Slot ("{}") where the action goes (text.json)
	Caption  string // Template with the action in words (NN.txt)
}

// TextName is the file name of an exemplar's full caption: "01.png" -> "01.txt".
func (e Exemplar) TextName() string { return strings.TrimSuffix(e.Name, ".png") + ".txt" }

// ExemplarSet draws an exemplar set of action as ActionBench lays one out:
// n pictures (ExemplarCount when n is 0) of people only, in 2 or 3 contexts
// (one look of clothes and body colour with one background each, shared by
// the pictures of that context as in photos of one person or one studio),
// each with its own pose jitter and slightly different framing. Names are
// "01.png", "02.png", ...; seed and action fix everything (sets of two
// actions with one seed show different people).
func ExemplarSet(action string, seed uint64, n int) ([]Exemplar, error) {
	verb, err := Verb(action)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		n = ExemplarCount
	}
	if n < 1 || n > 99 {
		return nil, fmt.Errorf("world: exemplar set of %d pictures: want 1..99", n)
	}
	h := fnv.New64a()
	h.Write([]byte(action))
	rng := rand.New(rand.NewPCG(seed, h.Sum64())) // each action its own people and studios

	contexts := make([]Scene, 2+rng.IntN(2))
	for i := range contexts {
		c := Scene{Kind: "person", Action: action, Color: pick(rng, Colors),
			Shirt: pick(rng, Colors), Trousers: pick(rng, Colors),
			Background: pick(rng, Backgrounds), BackColor: pick(rng, BackColors)}
		if rng.IntN(3) == 0 {
			c.Prop = pick(rng, Props)
		}
		contexts[i] = c
	}
	// One wording per context: a studio's photos share their description.
	templates := make([]string, len(contexts))
	for i, c := range contexts {
		templates[i] = Template(c, rng)
	}
	out := make([]Exemplar, n)
	for i := range out {
		ci := i % len(contexts)
		s := contexts[ci]
		s.Seed = rng.Uint64()
		s.Scale = uniform(rng, 0.6, 0.78)
		s.X = uniform(rng, 0.4, 0.6)
		s.Rotation = uniform(rng, -4, 4)
		s.Flip = rng.IntN(2) == 0
		out[i] = Exemplar{Name: fmt.Sprintf("%02d.png", i+1), Scene: s, Template: templates[ci],
			Caption: placeholder.Fill(templates[ci], verb)}
	}
	return out, nil
}

// TextJSON is the text.json of set: an object mapping each picture's name to
// a list holding its template, ActionBench's format.
func TextJSON(set []Exemplar) ([]byte, error) {
	m := make(map[string][]string, len(set))
	for _, e := range set {
		m[e.Name] = []string{e.Template}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("world: text.json: %w", err)
	}
	return append(b, '\n'), nil
}
