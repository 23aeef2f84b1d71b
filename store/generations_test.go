package store

import (
	"bytes"
	"context"
	"image/color"
	"testing"

	"kata/store/imagemeta"
)

// TestSettingsNamesIdentifiersByTrigger: a generation without recorded
// Settings names its identifiers by their action's trigger (as kata
// generate and the window do), never by the action's or the identifier's
// name; the PNG it is stored as says the same, and the label finds the
// identifier version again.
func TestSettingsNamesIdentifiersByTrigger(t *testing.T) {
	tests := []struct {
		name       string
		action     Action
		identifier string // the identifier's own name; "" = the action's
		want       string // label before ":hash"
	}{
		{"words joined", Action{Name: "hand stand"}, "", "hand-stand"},
		{"lower-cased", Action{Name: "Hand Stand"}, "", "hand-stand"},
		{"one word", Action{Name: "salute"}, "", "salute"},
		{"own trigger", Action{Name: "cartwheel", Trigger: "<wheel2>"}, "", "wheel2"},
		{"identifier named otherwise", Action{Name: "jump"}, "imported, v2", "jump"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := openTemp(t)
			a, err := l.CreateAction(ctx, tc.action)
			if err != nil {
				t.Fatal(err)
			}
			id, err := l.CreateIdentifier(ctx, Identifier{ActionID: a.ID, Name: tc.identifier, Method: "adi"})
			if err != nil {
				t.Fatal(err)
			}
			v, err := l.AddIdentifierVersion(ctx, IdentifierVersion{IdentifierID: id.ID}, []byte("identifier of "+tc.name))
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want + ":" + v.File[:12]
			g, err := l.AddGeneration(ctx, Generation{Prompt: "a panda " + a.Trigger, Seed: 1, Steps: 2, CFG: 7, Sampler: "Euler a",
				IdentifierVersions: []int64{v.ID}}, solid(8, 8, color.NRGBA{0, 0, 200, 255}))
			if err != nil {
				t.Fatal(err)
			}
			s, err := l.Settings(ctx, g)
			if err != nil || len(s.Identifiers) != 1 || s.Identifiers[0] != want {
				t.Errorf("settings identifiers %q (%v), want [%s]", s.Identifiers, err, want)
			}
			data, err := l.ReadBlob(g.Image)
			if err != nil {
				t.Fatal(err)
			}
			if png, err := imagemeta.ReadPNG(bytes.NewReader(data)); err != nil || len(png.Identifiers) != 1 || png.Identifiers[0] != want {
				t.Errorf("PNG identifiers %q (%v), want [%s]", png.Identifiers, err, want)
			}
			if ids, err := l.ResolveIdentifiers(ctx, s.Identifiers); err != nil || len(ids) != 1 || ids[0] != v.ID {
				t.Errorf("resolve %q: %v %v, want [%d]", s.Identifiers, ids, err, v.ID)
			}
		})
	}
}
