package app

import (
	"image/color"
	"path/filepath"
	"strings"
	"testing"
)

// writeTestPNG writes a 96x96 picture whose colour depends on seed, so that
// seeds give different files (the library deduplicates by content).
func writeTestPNG(t *testing.T, path string, seed int) {
	t.Helper()
	testPNG(t, path, 96, 96, color.NRGBA{uint8(seed * 40), uint8(seed * 70), 9, 255})
}

func TestImportDropped(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	dir := t.TempDir()
	writeTestPNG(t, filepath.Join(dir, "salute", "01.png"), 1)
	writeTestPNG(t, filepath.Join(dir, "salute", "02.png"), 2)
	loose := filepath.Join(dir, "x.png")
	writeTestPNG(t, loose, 3)

	tests := []struct {
		name        string
		action      int64
		paths       []string
		wantAdded   int
		wantFailed  int
		wantActions []string
	}{
		{"folder becomes its action", 0, []string{filepath.Join(dir, "salute")}, 2, 0, []string{"salute"}},
		{"loose file makes a new action", 0, []string{loose}, 1, 0, []string{DefaultActionName}},
		{"missing path is reported", 0, []string{filepath.Join(dir, "gone.png")}, 0, 1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := k.ImportDropped(tc.action, tc.paths)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range r.Actions {
				names = append(names, a.Name)
			}
			if r.Added != tc.wantAdded || len(r.Failed) != tc.wantFailed || strings.Join(names, ",") != strings.Join(tc.wantActions, ",") {
				t.Fatalf("got added %d failed %v actions %v", r.Added, r.Failed, names)
			}
		})
	}
	acts, err := k.Actions()
	if err != nil {
		t.Fatal(err)
	}
	var salute ActionInfo
	for _, a := range acts {
		if a.Name == "salute" {
			salute = a
		}
	}
	if salute.Trigger != "<salute>" || salute.Exemplars != 2 {
		t.Fatalf("salute action %+v", salute)
	}
	// Loose files go to the selected action.
	writeTestPNG(t, filepath.Join(dir, "y.png"), 4)
	r, err := k.ImportDropped(salute.ID, []string{filepath.Join(dir, "y.png")})
	if err != nil || r.Added != 1 || len(r.Actions) != 1 || r.Actions[0].ID != salute.ID || r.Actions[0].Exemplars != 3 {
		t.Fatalf("into selected: %+v, %v", r, err)
	}
}

func TestAddSampleAndCaptions(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.AddSample("cartwheel"); err == nil {
		t.Fatal("unknown sample accepted")
	}
	r, err := k.AddSample("salute")
	if err != nil || r.Added != 10 || len(r.Actions) != 1 || r.Actions[0].Name != "salute" {
		t.Fatalf("sample: %+v, %v", r, err)
	}
	ex, err := k.Exemplars(r.Actions[0].ID)
	if err != nil || len(ex) != 10 {
		t.Fatalf("exemplars %d, %v", len(ex), err)
	}
	for _, tc := range []struct {
		caption, want string
		ok            bool
	}{
		{"a man {} in a park", "a man <salute> in a park", true},
		{"a woman <salute>", "a woman <salute>", true},
		{"a photo without the slot", "", false},
	} {
		got, err := k.SetCaption(ex[0].ID, tc.caption)
		if (err == nil) != tc.ok || (tc.ok && got.Caption != tc.want) {
			t.Errorf("SetCaption(%q) = %q, %v", tc.caption, got.Caption, err)
		}
	}
	if err := k.RemoveExemplar(ex[1].ID); err != nil {
		t.Fatal(err)
	}
	if ex, _ = k.Exemplars(r.Actions[0].ID); len(ex) != 9 || ex[0].Caption != "a woman <salute>" && ex[len(ex)-1].Caption != "a woman <salute>" {
		t.Fatalf("after remove: %d exemplars", len(ex))
	}
}
