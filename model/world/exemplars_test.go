package world

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestExemplarSet(t *testing.T) {
	for _, action := range Actions() {
		set, err := ExemplarSet(action, 7, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(set) != ExemplarCount {
			t.Fatalf("%s: %d pictures, want %d", action, len(set), ExemplarCount)
		}
		verb := verbs[action]
		looks := map[Scene]bool{}
		seeds := map[uint64]bool{}
		for i, e := range set {
			if want := fmt.Sprintf("%02d.png", i+1); e.Name != want || e.TextName() != fmt.Sprintf("%02d.txt", i+1) {
				t.Fatalf("%s: picture %d named %q / %q", action, i, e.Name, e.TextName())
			}
			if err := e.Scene.Validate(); err != nil || e.Scene.Kind != "person" || e.Scene.Action != action {
				t.Fatalf("%s: picture %d scene %+v (%v): want a valid person doing it", action, i, e.Scene, err)
			}
			if strings.Count(e.Template, "{}") != 1 || namesBenchmark(e.Template) != "" {
				t.Fatalf("%s: template %q: want one {} and no action", action, e.Template)
			}
			if e.Caption != strings.Replace(e.Template, "{}", verb, 1) {
				t.Fatalf("%s: caption %q is not template %q with %q", action, e.Caption, e.Template, verb)
			}
			look := e.Scene
			look.Seed, look.Scale, look.X, look.Rotation, look.Flip = 0, 0, 0, 0, false
			looks[look] = true
			seeds[e.Scene.Seed] = true
		}
		if len(looks) < 2 || len(looks) > 3 {
			t.Fatalf("%s: %d contexts, want 2 or 3", action, len(looks))
		}
		if len(seeds) != len(set) {
			t.Fatalf("%s: %d pose seeds for %d pictures", action, len(seeds), len(set))
		}
	}
	a, _ := ExemplarSet("salute", 3, 4)
	b, _ := ExemplarSet("salute", 3, 4)
	c, _ := ExemplarSet("salute", 4, 4)
	if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) == fmt.Sprint(c) {
		t.Fatal("ExemplarSet is not a function of its seed")
	}
	for _, bad := range []struct {
		action string
		n      int
	}{{"fly", 10}, {"sit", -1}, {"sit", 100}} {
		if _, err := ExemplarSet(bad.action, 1, bad.n); err == nil {
			t.Errorf("ExemplarSet(%q, n=%d): no error", bad.action, bad.n)
		}
	}
}

func TestTextJSON(t *testing.T) {
	set, err := ExemplarSet("meditate", 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	data, err := TextJSON(set)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string][]string
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("text.json %s: %v", data, err)
	}
	if len(got) != 3 {
		t.Fatalf("text.json has %d entries: %s", len(got), data)
	}
	for _, e := range set {
		if l := got[e.Name]; len(l) != 1 || l[0] != e.Template {
			t.Errorf("text.json[%q] = %q, want [%q]", e.Name, l, e.Template)
		}
	}
}
