package app

import (
	"context"
	"path/filepath"
	"testing"

	"kata/model/sd/sdtest"
	"kata/store"
)

// TestGenerateSeeds checks that the window's batch of seeds stores one
// image per seed with its own settings, each its seed's image drawn alone
// up to a rounding step of a pixel value (a batch's kernels may round a
// latent's last bit differently, sd.TestGenerateBatch).
func TestGenerateSeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("generates on the fixture model")
	}
	k, model := openWithTinyModel(t)
	ctx := context.Background()
	r := GenerateRequest{ModelID: model.ID, Prompt: "a red robot", Steps: 3, CFG: 5}
	seeds := []uint64{11, 12, 11}
	infos, err := k.GenerateSeeds(ctx, r, seeds, nil)
	if err != nil || len(infos) != len(seeds) {
		t.Fatalf("%d images, %v", len(infos), err)
	}
	for i, g := range infos {
		s, err := store.ReadSettings(g.ImagePath)
		if err != nil || g.Seed != seeds[i] || s.Seed != int64(seeds[i]) || s.Prompt != r.Prompt {
			t.Fatalf("image %d: seed %d, settings %+v, %v", i, g.Seed, s, err)
		}
	}
	r.Seed = 12
	alone, err := k.Generate(ctx, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := imageBytes(alone.ImagePath)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []uint64{11, 12} {
		b, err := imageBytes(infos[i].ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		worst := 0
		for j := range a {
			worst = max(worst, abs(int(a[j])-int(b[j])))
		}
		switch {
		case want == 12 && worst > 1:
			t.Errorf("seed 12 in a batch differs from alone by %d in a pixel value", worst)
		case want == 11 && worst < 8:
			t.Errorf("seeds 11 and 12 drew nearly the same image (largest difference %d)", worst)
		}
	}
}

// openWithTinyModel opens a library in a temporary folder, closed when the
// test ends, with the sd-tiny fixture model added.
func openWithTinyModel(t *testing.T) (*Kata, ModelInfo) {
	t.Helper()
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	model, err := k.AddModel(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return k, model
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
