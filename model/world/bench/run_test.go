package bench

import (
	"context"
	"strings"
	"testing"

	"kata/model/world/judge"
)

func TestRunChecks(t *testing.T) {
	if _, err := Run(context.Background(), Runner{}, Quick(), nil); err == nil || !strings.Contains(err.Error(), "needs a pipeline") {
		t.Errorf("empty runner: %v", err)
	}
	if _, err := Run(context.Background(), Runner{}, Options{Images: -2}, nil); err == nil || !strings.Contains(err.Error(), "images -2") {
		t.Errorf("bad options: %v", err)
	}
	o, _ := Quick().WithDefaults()
	v := judge.WorldVocabulary()
	if err := checkVocabulary(v, o); err != nil {
		t.Errorf("world vocabulary: %v", err)
	}
	for _, tc := range []struct {
		name string
		v    judge.Vocabulary
		want string
	}{
		{"no handstand", judge.Vocabulary{Kinds: v.Kinds, Colors: v.Colors, Actions: []string{"sit", "wave"}}, `action "handstand"`},
		{"no cats", judge.Vocabulary{Kinds: []string{"robot", "person"}, Colors: v.Colors, Actions: v.Actions}, `subject "black cat"`},
	} {
		if err := checkVocabulary(tc.v, o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to mention %s", tc.name, err, tc.want)
		}
	}
}

// TestExemplarSet: people only, the requested size, and person subjects
// that share an exemplar's body colour are named.
func TestExemplarSet(t *testing.T) {
	o, _ := Options{Exemplars: 6, ExemplarSize: 32}.WithDefaults()
	set, _, err := exemplarSet(o, "salute")
	if err != nil || len(set) != 6 {
		t.Fatalf("%d exemplars, %v", len(set), err)
	}
	for _, e := range set {
		if e.Image.Bounds().Dx() != 32 || !strings.Contains(e.Template, "{}") || !strings.Contains(e.Template, "person") {
			t.Errorf("%s: %v, template %q", e.Name, e.Image.Bounds(), e.Template)
		}
	}
	// A person in every colour must collide with at least one exemplar.
	var people []Subject
	for _, c := range []string{"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "white", "black"} {
		people = append(people, Subject{"person", c})
	}
	o.Subjects = people
	_, overlaps, _ := exemplarSet(o, "salute")
	if len(overlaps) == 0 || len(overlaps) == len(people) {
		t.Errorf("%d overlaps of %d people: %v", len(overlaps), len(people), overlaps)
	}
}
