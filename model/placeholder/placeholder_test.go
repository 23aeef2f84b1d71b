package placeholder

import (
	"slices"
	"testing"
)

func TestFor(t *testing.T) {
	for in, want := range map[string]string{"handstand": "<handstand>", "<salute>": "<salute>", " pray ": "<pray>",
		"hand-stand_2": "<hand-stand_2>", "<Handstand>": "<handstand>", "hand stand": "<hand-stand>", "New  action 2": "<new-action-2>"} {
		if got, err := For(in); err != nil || got != want {
			t.Errorf("For(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if !Is("<Hand-stand>") || Is("<a b>") || Is("handstand") {
		t.Errorf("Is: wrong")
	}
	for _, bad := range []string{"", "  ", "<a<b>", "hand>stand", "sit (2)", "-x"} {
		if got, err := For(bad); err == nil {
			t.Errorf("For(%q) = %q: no error", bad, got)
		}
	}
}

func TestFindAndFill(t *testing.T) {
	got := Find("a panda <Handstand> next to a robot <salute>, another <handstand>")
	if !slices.Equal(got, []string{"<handstand>", "<salute>"}) {
		t.Errorf("Find = %v", got)
	}
	if got := Find("a < b and c > d"); len(got) != 0 {
		t.Errorf("no trigger expected, got %v", got)
	}
	if got := Fill("a {} and a {}", "<x>"); got != "a <x> and a <x>" {
		t.Errorf("Fill = %q", got)
	}
	if got := Fill(DefaultCaption, "<x>"); got != "a photo of a person <x>" {
		t.Errorf("default caption %q", got)
	}
}
