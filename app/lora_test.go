package app

import (
	"path/filepath"
	"slices"
	"testing"

	"kata/model/sd"
	"kata/model/sd/sdtest"
)

// TestLoRAState merges a set of LoRAs once, keeps it for the same set,
// restores the model's own weights exactly for another set or none, and
// loads two LoRAs at once.
func TestLoRAState(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	writeTestLoRA(t, a, false)
	writeTestLoRA(t, b, true)
	m, err := sd.Load(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	const key = "unet/down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"
	weight := func() []float32 {
		w, _, err := m.Weight(key)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	orig := weight()
	var s loraState
	pl, err := s.resolveLoRAs("a cat <lora:a:0.5> <lora:b:1:0.25>", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pl.text != "a cat  " || len(pl.uses) != 2 || pl.uses[1].TextWeight != 1 || pl.uses[1].UNetWeight != 0.25 {
		t.Fatalf("resolved %+v", pl)
	}
	if h := loraHashes(pl.uses); h != "a: "+pl.uses[0].LoRA.Hash+", b: "+pl.uses[1].LoRA.Hash {
		t.Errorf("Lora hashes %q", h)
	}
	ignored, err := s.use(m, pl.uses)
	if err != nil {
		t.Fatal(err)
	}
	if len(ignored["b"]) != 1 || len(ignored["a"]) != 0 {
		t.Errorf("ignored %v", ignored)
	}
	merged := weight()
	if slices.Equal(merged, orig) {
		t.Fatal("the LoRAs did not change the weight")
	}
	patch := s.patch
	if _, err := s.use(m, pl.uses); err != nil || s.patch != patch || !slices.Equal(weight(), merged) {
		t.Errorf("the same set merged again (%v)", err)
	}
	if _, err := s.use(m, pl.uses[:1]); err != nil || slices.Equal(weight(), merged) || slices.Equal(weight(), orig) {
		t.Errorf("another set: %v", err)
	}
	if _, err := s.use(m, nil); err != nil || !slices.Equal(weight(), orig) {
		t.Errorf("no LoRA: the model's own weights are not back (%v)", err)
	}
}
