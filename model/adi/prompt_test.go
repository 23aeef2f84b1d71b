package adi

import (
	"strings"
	"testing"

	"kata/model/tokenizer"
)

// sdTiny is the fixture model copied by model/sd's tests.
const sdTiny = "../sd/testdata/sd-tiny"

func TestCaptionSlotsAndCheck(t *testing.T) {
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
	hsID, err1 := tok.AddToken(hs.Trigger)
	salID, err2 := tok.AddToken(sal.Trigger)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	// BOS a panda <handstand> next to a robot <salute> EOS: positions 3 and 8.
	prompt := "a panda <handstand> next to a robot <salute>"
	for _, c := range []struct {
		id, pos int
	}{{hsID, 3}, {salID, 8}} {
		ids, slots, err := captionSlots(tok, prompt, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 77 || ids[0] != int32(tok.BOS()) || ids[9] != int32(tok.EOS()) {
			t.Errorf("ids %v", ids[:12])
		}
		for i, s := range slots {
			if (s == 1) != (i == c.pos) {
				t.Errorf("token %d: slot %d is %v, want the placeholder at %d only", c.id, i, s, c.pos)
			}
		}
	}
	if err := set.Check("a dog <pray> and <handstand>"); err == nil || !strings.Contains(err.Error(), "<pray>") {
		t.Errorf("unknown placeholder: %v", err)
	}
	if err := set.Check(prompt); err != nil {
		t.Errorf("known placeholders: %v", err)
	}
	long := strings.Repeat("word ", 80) + "<handstand>"
	if _, _, err := captionSlots(tok, long, hsID); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("truncated placeholder: %v", err)
	}
	if _, err := NewIdentifiers(hs, hs); err == nil {
		t.Errorf("duplicate trigger: no error")
	}
}
