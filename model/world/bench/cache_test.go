package bench

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/sd"
	"kata/model/sd/sdtest"
	"kata/model/world/judge"
)

// tinyRunner is the sd-tiny fixture (random weights) with random judges.
func tinyRunner(t *testing.T) Runner {
	t.Helper()
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	m, err := sd.Load(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Finalize)
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Finalize)
	base, err := adi.NewBase(be, m, adi.BaseOptions{Pipeline: p})
	if err != nil {
		t.Fatal(err)
	}
	j, err := judge.New(be, judge.WorldVocabulary(), nil, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return Runner{Base: base, Pipeline: p, Judges: j}
}

// TestRunResumes kills a run (cancels it) while it generates P+'s images,
// starts it again on the same cache and checks that it trains and draws only
// what was unfinished and ends with exactly the verdicts and images of a run
// that was never stopped; a third start does no work at all, and other
// settings reuse nothing they do not share.
func TestRunResumes(t *testing.T) {
	r := tinyRunner(t)
	o := Quick()
	o.Images = 2 // cells are batches of two
	// As little ADI preparation as there can be: two exemplars, one contrast image each.
	o.Exemplars, o.Train.Contrast.PerExemplar = 2, 1
	ctx := context.Background()
	whole, err := Run(ctx, r, o, nil)
	if err != nil {
		t.Fatal(err)
	}

	r.CacheDir = t.TempDir()
	killed, kill := context.WithCancel(ctx)
	defer kill()
	_, err = Run(killed, r, o, func(p Progress) {
		if strings.HasPrefix(p.Stage, "handstand: generating with P+") {
			kill()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: %v", err)
	}
	resumed, err := Run(ctx, r, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	same := func(name string, got *Result) {
		t.Helper()
		if !slices.Equal(got.Verdicts, whole.Verdicts) {
			t.Errorf("%s: verdicts differ from the uninterrupted run's", name)
		}
		for i := range whole.Images {
			if !slices.Equal(got.Images[i].Pix, whole.Images[i].Pix) {
				t.Errorf("%s: image %d differs from the uninterrupted run's", name, i)
			}
		}
	}
	same("resumed", resumed)
	type state struct {
		trained bool
		cached  int
	}
	check := func(name string, res *Result, want map[Method]state) {
		t.Helper()
		for _, tm := range res.Timing {
			got := state{tm.Method != MethodPrompt && !tm.CachedIdentifier, tm.CachedImages}
			if got != want[tm.Method] {
				t.Errorf("%s, %s: trained %v with %d cached images, want %+v", name, tm.Method, got.trained, got.cached, want[tm.Method])
			}
		}
	}
	n := len(o.Subjects) * o.Images
	// P+ was trained before the kill; its first cell may or may not have been kept.
	pplus := resumed.Timing[2]
	if pplus.Method != MethodPPlus || !pplus.CachedIdentifier || pplus.CachedImages >= n {
		t.Errorf("resumed P+: %+v", pplus)
	}
	check("resumed", resumed, map[Method]state{MethodPrompt: {false, n}, MethodTI: {false, n}, MethodPPlus: {false, pplus.CachedImages}, MethodADI: {true, 0}})

	again, err := Run(ctx, r, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	same("finished", again)
	check("finished", again, map[Method]state{MethodPrompt: {false, n}, MethodTI: {false, n}, MethodPPlus: {false, n}, MethodADI: {false, n}})

	o.Steps, o.Methods = 3, []Method{MethodPrompt, MethodTI}
	other, err := Run(ctx, r, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("3 steps", other, map[Method]state{MethodPrompt: {false, n}, MethodTI: {true, 0}})
}
