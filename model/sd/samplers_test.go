package sd_test

import (
	gocontext "context"
	"math"
	"testing"

	"kata/model/backend"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/sd/sdtest"
)

// Every sampler and a few schedule types run a whole sd-tiny generation:
// the k-diffusion ones with two model evaluations per step report them as
// steps, every image is finite, and a seed reproduces it.
func TestPipelineSamplers(t *testing.T) {
	b, err := backend.New(sdtest.Backend())
	if err != nil {
		t.Fatal(err)
	}
	m, err := sd.Load(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	p, err := sd.NewPipeline(b, m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	names := append(scheduler.Names(), "Euler Exponential", "DPM++ 2M SDE Karras", "Heun SGM Uniform", "LMS KL Optimal")
	for _, name := range names {
		var total int
		o := sd.GenerateOptions{Prompt: "a cat", Steps: 3, Sampler: name, Seed: 3,
			OnStep: func(step, n int, _ []float32) { total = n }}
		r, err := p.Generate(gocontext.Background(), o)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		s, _ := scheduler.New(name, p.Scheduler, 3)
		if total != s.Len() {
			t.Errorf("%s: %d steps reported, sampler has %d evaluations", name, total, s.Len())
		}
		for _, v := range r.Decoded {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite image value", name)
			}
		}
		again, err := p.Generate(gocontext.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if string(again.Image.Pix) != string(r.Image.Pix) {
			t.Errorf("%s: the same seed gave another image", name)
		}
	}
}
