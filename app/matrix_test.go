package app

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCellRequests(t *testing.T) {
	m := Matrix{
		Subjects: []SubjectInfo{{ID: 1, Prompt: "a panda"}, {ID: 2, Prompt: "a robot"}},
		Actions:  []ActionInfo{{ID: 10, Trigger: "<salute>"}, {ID: 11, Trigger: "<handstand>"}},
	}
	base := GenerateRequest{ModelID: 3, Steps: 7}
	for _, tc := range []struct {
		name               string
		subjects, actions  []int64
		variations         int
		wantN              int
		wantFirst, wantErr string
	}{
		{"everything", nil, nil, 1, 4, "a panda <salute>", ""},
		{"a row", []int64{2}, nil, 1, 2, "a robot <salute>", ""},
		{"a column with variations", nil, []int64{11}, 3, 6, "a panda <handstand>", ""},
		{"a cell", []int64{2}, []int64{11}, 2, 2, "a robot <handstand>", ""},
		{"no variations", nil, nil, 0, 0, "", "variations"},
		{"empty selection", []int64{99}, nil, 1, 0, "", "nothing to generate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CellRequests(m, tc.subjects, tc.actions, tc.variations, 100, base)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != tc.wantN || got[0].Prompt != tc.wantFirst || got[0].ModelID != 3 || got[0].Steps != 7 {
				t.Fatalf("got %+v, %v", got, err)
			}
			if tc.variations > 1 && (got[1].Seed != 101 || got[1].Prompt != got[0].Prompt) {
				t.Fatalf("variation 2: %+v", got[1])
			}
		})
	}
	if _, err := CellRequests(Matrix{Subjects: m.Subjects}, nil, nil, 1, 0, base); err == nil || !strings.Contains(err.Error(), "no trained action") {
		t.Fatalf("no actions: %v", err)
	}
}

func TestSubjects(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.AddSubjects(" , "); err == nil {
		t.Fatal("empty subjects accepted")
	}
	got, err := k.AddSubjects("a panda, our mascot")
	if err != nil || len(got) != 2 || got[1].Prompt != "our mascot" {
		t.Fatalf("subjects %+v, %v", got, err)
	}
	if again, _ := k.AddSubjects("a panda"); len(again) != 1 || again[0].ID != got[0].ID {
		t.Fatalf("adding again made %+v", again)
	}
	if err := k.RemoveSubject(got[0].ID); err != nil {
		t.Fatal(err)
	}
	m, err := k.Matrix()
	if err != nil || len(m.Subjects) != 1 || m.Subjects[0].Name != "our mascot" || len(m.Actions) != 0 {
		t.Fatalf("matrix %+v, %v", m, err)
	}
}
