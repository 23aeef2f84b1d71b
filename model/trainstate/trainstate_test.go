package trainstate

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"kata/model/trainstate/trainstatetest"
)

// TestStateMetadata pins the metadata State writes (it is part of the
// checkpoint formats) and reads it back.
func TestStateMetadata(t *testing.T) {
	s := State{Step: 42, AdamStep: 41, RNG: trainstatetest.PCG(t, 7, 8), Fingerprint: "lr=0.005 steps=100"}
	meta := map[string]string{"other": "kept"}
	s.Put(meta)
	want := map[string]string{"other": "kept", "step": "42", "adam_step": "41",
		"rng": "cGNnOgAAAAAAAAAHAAAAAAAAAAg=", "fingerprint": "lr=0.005 steps=100"}
	if !reflect.DeepEqual(meta, want) {
		t.Errorf("metadata %v, want %v", meta, want)
	}
	got, err := Read(meta)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("read %+v, want %+v", got, s)
	}
}

func TestReadErrors(t *testing.T) {
	good := map[string]string{}
	State{Step: 1, AdamStep: 1, RNG: trainstatetest.PCG(t, 1, 2)}.Put(good)
	tests := []struct {
		key, value string
	}{
		{"step", ""}, {"step", "1.5"}, {"adam_step", "x"},
		{"rng", "%%%"}, {"rng", ""}, {"rng", "AAAA"},
	}
	for _, tc := range tests {
		meta := map[string]string{}
		for k, v := range good {
			meta[k] = v
		}
		meta[tc.key] = tc.value
		if _, err := Read(meta); err == nil || !strings.HasPrefix(err.Error(), tc.key+": ") {
			t.Errorf("%s=%q: error %v, want one naming %s", tc.key, tc.value, err, tc.key)
		}
	}
}

func TestFloat64(t *testing.T) {
	tests := []struct {
		v    float64
		text string
	}{
		{0.1 + 0.2, "3fd3333333333333"},
		{0.18215, "3fc750b0f27bb2ff"},
		{0, "0"},
		{math.Inf(-1), "fff0000000000000"},
	}
	for _, tc := range tests {
		meta := map[string]string{}
		PutFloat64(meta, "x", tc.v)
		if meta["x"] != tc.text {
			t.Errorf("PutFloat64(%v) stored %q, want %q", tc.v, meta["x"], tc.text)
		}
		got, err := Float64(meta, "x")
		if err != nil || math.Float64bits(got) != math.Float64bits(tc.v) {
			t.Errorf("Float64 of %q: %v, %v; want %v", tc.text, got, err, tc.v)
		}
	}
	if _, err := Float64(map[string]string{"x": "1p3"}, "x"); err == nil || !strings.HasPrefix(err.Error(), "x: ") {
		t.Errorf("bad value: error %v, want one naming x", err)
	}
}
