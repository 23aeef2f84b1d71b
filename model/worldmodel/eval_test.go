package worldmodel

import (
	"bytes"
	"context"
	"image"
	"slices"
	"strings"
	"testing"

	"kata/assets"
	"kata/model/backend"
	"kata/model/world"
	"kata/model/world/judge"
)

func TestEvalPrompts(t *testing.T) {
	named, free := EvalPrompts(1, 50, 30)
	again, _ := EvalPrompts(1, 50, 30)
	if len(named) != 50 || len(free) != 30 || !slices.Equal(named, again) {
		t.Fatalf("got %d+%d prompts, or not the same for the same seed", len(named), len(free))
	}
	if other, _ := EvalPrompts(2, 50, 0); slices.Equal(named, other) {
		t.Fatal("seeds 1 and 2 give the same prompts")
	}
	seeds := map[uint64]bool{}
	for i, p := range slices.Concat(named, free) {
		verb, err := world.Verb(p.Scene.Action)
		if err != nil {
			t.Fatal(err)
		}
		names := strings.Contains(p.Prompt, verb)
		if want := i < len(named); names != want || world.IsBenchmark(p.Scene.Action) == want {
			t.Errorf("prompt %d %q (action %s): names the action %v, want %v", i, p.Prompt, p.Scene.Action, names, want)
		}
		if !strings.Contains(p.Prompt, p.Scene.Color+" "+p.Scene.Kind) {
			t.Errorf("prompt %q does not name its subject %s %s", p.Prompt, p.Scene.Color, p.Scene.Kind)
		}
		if p.Seed < EvalSeedBase || seeds[p.Seed] {
			t.Errorf("prompt %d: seed %d below EvalSeedBase or repeated", i, p.Seed)
		}
		seeds[p.Seed] = true
	}
}

// TestEvaluateReadsRenders runs the evaluation with a "model" that draws
// exactly the prompted scene (the renderer) and with one that always draws
// the wrong kind: the first scores as the judges do on renders, the second
// gets no kind right.
func TestEvaluateReadsRenders(t *testing.T) {
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.Load(be, assets.Judges)
	if err != nil {
		t.Fatal(err)
	}
	named, free := EvalPrompts(3, 40, 16)
	exact := func(_ context.Context, p EvalPrompt) (image.Image, error) { return world.Render(p.Scene, 64), nil }
	wrongKind := func(_ context.Context, p EvalPrompt) (image.Image, error) {
		s := p.Scene
		s.Kind = world.Kinds[(slices.Index(world.Kinds, s.Kind)+1)%len(world.Kinds)]
		s.Shirt, s.Trousers = "", ""
		return world.Render(s, 64), nil
	}
	calls := 0
	r, err := Evaluate(context.Background(), exact, 3, j, named, free, func(done, total int) {
		if done != calls+1 {
			t.Errorf("progress %d after %d", done, calls)
		}
		calls = done
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 56 || len(r.Verdicts) != 56 || len(r.Images) != 40 {
		t.Fatalf("progress reached %d, %d verdicts, %d images; want 56, 56, 40", calls, len(r.Verdicts), len(r.Images))
	}
	for i, img := range r.Images {
		if want := world.Render(named[i].Scene, 64); !bytes.Equal(img.(*image.NRGBA).Pix, want.Pix) {
			t.Fatalf("image %d is not named prompt %d's", i, i)
		}
	}
	// The judges read 97-99% of renders right (docs/WORLD.md); 40 renders
	// with at most 4 errors per head.
	if r.Kind < 36 || r.Color < 36 || r.Action < 36 {
		t.Errorf("on exact renders: kind %d, colour %d, action %d of 40", r.Kind, r.Color, r.Action)
	}
	shares := 0
	for i, a := range r.Actions {
		if r.Poses[i] > 0 && !world.IsBenchmark(a) {
			t.Logf("free prompts: %d images read as the common action %s", r.Poses[i], a)
		}
		shares += r.Poses[i]
	}
	if shares != 16 {
		t.Errorf("pose counts sum to %d, want 16", shares)
	}
	var out bytes.Buffer
	if err := r.Format(&out); err != nil || !strings.Contains(out.String(), "kind right") {
		t.Errorf("Format: %v\n%s", err, out.String())
	}
	w, err := Evaluate(context.Background(), wrongKind, 1, j, named, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w.Kind > 4 {
		t.Errorf("a model drawing the wrong kind got %d of 40 kinds right", w.Kind)
	}
}
