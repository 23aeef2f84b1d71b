package adi

import (
	"slices"
	"strings"
	"testing"

	"kata/model/tokenizer"
)

// sdTiny is the fixture model copied by model/sd's tests.
const sdTiny = "../sd/testdata/sd-tiny"

func TestPlaceholders(t *testing.T) {
	got := Placeholders("a panda <Handstand> next to a robot <salute>, another <handstand>")
	if !slices.Equal(got, []string{"<handstand>", "<salute>"}) {
		t.Errorf("Placeholders = %v", got)
	}
	if got := Placeholders("a < b and c > d"); len(got) != 0 {
		t.Errorf("no placeholder expected, got %v", got)
	}
}

func TestEncodePromptPlaceholders(t *testing.T) {
	tok, err := tokenizer.Load(sdTiny + "/tokenizer")
	if err != nil {
		t.Fatal(err)
	}
	hs := testIdentifier(t, MethodADI, 16, 4)
	sal := testIdentifier(t, MethodTI, 16, 4)
	sal.Trigger = "<salute>"
	set, err := NewIdentifiers(hs, sal)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := set.Encode(tok, "a panda <handstand> next to a robot <salute>", 77)
	if err != nil {
		t.Fatal(err)
	}
	// BOS a panda <handstand> next to a robot <salute> EOS: positions 3 and 8.
	if !slices.Equal(ep.Positions, []int{3, 8}) || ep.Which[0] != hs || ep.Which[1] != sal {
		t.Fatalf("positions %v", ep.Positions)
	}
	if len(ep.IDs) != 77 || ep.IDs[0] != tok.BOS() || ep.IDs[9] != tok.EOS() {
		t.Errorf("ids %v", ep.IDs[:12])
	}
	placed, keep, err := ep.Replacements(16, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(placed) != 16 || keep[3] != 0 || keep[8] != 0 || keep[4] != 1 {
		t.Fatalf("replacements: %d layers, keep %v", len(placed), keep[:10])
	}
	for l := range 16 {
		if !slices.Equal(placed[l][3*4:4*4], hs.Vectors[l]) || !slices.Equal(placed[l][8*4:9*4], sal.Vectors[0]) {
			t.Errorf("layer %d placed vectors wrong", l)
		}
		if placed[l][0] != 0 || placed[l][4*4] != 0 {
			t.Errorf("layer %d: non-placeholder rows not zero", l)
		}
	}
	// Only TI placeholders: one shared encoding.
	ep2, err := set.Encode(tok, "a cat <salute>", 77)
	if err != nil {
		t.Fatal(err)
	}
	if p, _, _ := ep2.Replacements(16, 4); len(p) != 1 {
		t.Errorf("TI-only prompt gives %d encodings", len(p))
	}
	_, err = set.Encode(tok, "a dog <pray> and <handstand>", 77)
	if err == nil || !strings.Contains(err.Error(), "<pray>") {
		t.Errorf("unknown placeholder: %v", err)
	}
	long := strings.Repeat("word ", 80) + "<handstand>"
	if _, err := set.Encode(tok, long, 77); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("truncated placeholder: %v", err)
	}
	if _, err := NewIdentifiers(hs, hs); err == nil {
		t.Errorf("duplicate trigger: no error")
	}
}
