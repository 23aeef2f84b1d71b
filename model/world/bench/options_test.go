package bench

import (
	"slices"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/world"
)

func TestWithDefaults(t *testing.T) {
	o, err := Options{}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.Actions, world.BenchmarkActions) || len(o.Subjects) < 12 || !slices.Equal(o.Methods, Methods) ||
		o.Steps != adi.DefaultSteps || o.Images != DefaultImages || o.Exemplars != world.ExemplarCount {
		t.Errorf("defaults %+v", o)
	}
	// Default subjects differ from the exemplars (people) in kind, or are
	// people of several colours.
	people := map[string]bool{}
	for _, s := range DefaultSubjects {
		if err := s.Validate(); err != nil {
			t.Error(err)
		}
		if s.Kind == "person" {
			people[s.Color] = true
		}
	}
	if n := len(DefaultSubjects) - len(people); n < 9 || len(people) < 2 {
		t.Errorf("%d non-people, %d people colours", n, len(people))
	}
	// Methods come back in table order whatever order was asked.
	o, err = Options{Methods: []Method{MethodADI, MethodPrompt}}.WithDefaults()
	if err != nil || !slices.Equal(o.Methods, []Method{MethodPrompt, MethodADI}) {
		t.Errorf("methods %v, %v", o.Methods, err)
	}
	if _, err := Quick().WithDefaults(); err != nil {
		t.Errorf("quick: %v", err)
	}
}

func TestWithDefaultsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"common action", Options{Actions: []string{"wave"}}, `"wave" is not a benchmark action`},
		{"unknown action", Options{Actions: []string{"fly"}}, `"fly" is not a benchmark action`},
		{"repeated action", Options{Actions: []string{"sit", "sit"}}, "action sit listed twice"},
		{"repeated subject", Options{Subjects: []Subject{{"cat", "red"}, {"cat", "red"}}}, "listed twice"},
		{"unknown kind", Options{Subjects: []Subject{{"dragon", "red"}}}, `unknown kind "dragon"`},
		{"unknown method", Options{Methods: []Method{"dreambooth"}}, `unknown method "dreambooth"`},
		{"no subjects", Options{Subjects: []Subject{}}, "at least one action, subject and method"},
		{"negative images", Options{Images: -1}, "images -1"},
		{"one exemplar", Options{Exemplars: 1}, "ADI needs at least 2"},
		{"prompt without slot", Options{Prompt: "a photo of {s}"}, "has no {} for the action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.o.WithDefaults(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Method{"prompt": MethodPrompt, "TI": MethodTI, "p+": MethodPPlus, " adi ": MethodADI} {
		if m, err := ParseMethod(in); err != nil || m != want {
			t.Errorf("ParseMethod(%q) = %q, %v", in, m, err)
		}
	}
	if _, err := ParseMethod("lora"); err == nil {
		t.Error("ParseMethod(lora): no error")
	}
	if s, err := ParseSubject(" Red  Robot "); err != nil || s != (Subject{"robot", "red"}) || s.String() != "red robot" {
		t.Errorf("ParseSubject = %+v, %v", s, err)
	}
	for _, bad := range []string{"robot", "red robot dancing", "teal robot", "red dragon"} {
		if _, err := ParseSubject(bad); err == nil {
			t.Errorf("ParseSubject(%q): no error", bad)
		}
	}
}

func TestPrompt(t *testing.T) {
	o, _ := Options{}.WithDefaults()
	for _, tc := range []struct {
		m    Method
		s    Subject
		want string
	}{
		{MethodPrompt, Subject{"robot", "red"}, "a photo of a red robot doing a handstand on a plain white background"},
		{MethodADI, Subject{"cat", "orange"}, "a photo of an orange cat <handstand> on a plain white background"},
		{MethodTI, Subject{"bear", "brown"}, "a photo of a brown bear <handstand> on a plain white background"},
	} {
		if got, err := o.prompt(tc.m, tc.s, "handstand"); err != nil || got != tc.want {
			t.Errorf("%s %s: %q, %v; want %q", tc.m, tc.s, got, err, tc.want)
		}
	}
}

func TestImageSeed(t *testing.T) {
	s := Subject{"robot", "red"}
	a := ImageSeed(7, "sit", s, 0)
	if a != ImageSeed(7, "sit", s, 0) || a >= 1<<32 {
		t.Errorf("seed %d not reproducible or over 32 bits", a)
	}
	seen := map[uint64]bool{}
	for _, x := range []uint64{a, ImageSeed(7, "sit", s, 1), ImageSeed(7, "squat", s, 0),
		ImageSeed(7, "sit", Subject{"robot", "blue"}, 0), ImageSeed(8, "sit", s, 0)} {
		if seen[x] {
			t.Errorf("seed %d repeats for different images", x)
		}
		seen[x] = true
	}
}
