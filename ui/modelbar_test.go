package ui

import (
	"slices"
	"testing"

	"kata/app"
)

func TestModelLabels(t *testing.T) {
	for _, tc := range []struct {
		models []app.ModelInfo
		want   []string
	}{
		{nil, []string{}},
		{[]app.ModelInfo{{ID: 1, Name: "sd15", Hash: "aa"}, {ID: 2, Name: "dreamy", Hash: "bb"}}, []string{"sd15", "dreamy"}},
		// Two checkpoints both called model.safetensors in different folders.
		{[]app.ModelInfo{{ID: 1, Name: "model", Path: "/a/model"}, {ID: 2, Name: "sd15", Path: "/s"}, {ID: 3, Name: "model", Path: "/b/model"}},
			[]string{"model (/a/model)", "sd15", "model (/b/model)"}},
	} {
		if got := modelLabels(tc.models); !slices.Equal(got, tc.want) {
			t.Errorf("modelLabels(%v) = %q, want %q", tc.models, got, tc.want)
		}
	}
}
