package app

import (
	"context"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/parallel"
	"kata/model/sd"
	"kata/model/world"
)

// The built-in model's speed targets (the built-in model issue; `make bench`
// runs them): a 4x4 grid at 20 steps with CFG under 5 s, and 500 ADI steps
// of an identifier under 5 minutes, on 2 cores with the pure-Go backend.
//
//	CGO_ENABLED=0 go test ./app -run '^$' -bench Builtin -benchtime 1x

// builtinBench loads the built-in model and a pipeline on the pure-Go backend.
func builtinBench(b *testing.B) (backends.Backend, *sd.Model, *sd.Pipeline) {
	if builtinPath() == "" {
		b.Skip("this build has no built-in model")
	}
	be, err := backend.New("go")
	if err != nil {
		b.Fatal(err)
	}
	m, p := builtinPipeline(b, be)
	return be, m, p
}

// builtinPipeline loads its own copy of the built-in model and a pipeline
// of it on be, both finalized when the benchmark ends.
func builtinPipeline(b *testing.B, be backends.Backend) (*sd.Model, *sd.Pipeline) {
	m, err := sd.Load(builtinPath(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(m.Finalize)
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Finalize)
	return m, p
}

// BenchmarkBuiltinGrid draws a 4x4 grid (16 images, 20 DDIM steps, CFG 7.5,
// in one batch as `kata world grid` draws each row) after one warm-up image
// that compiles the graphs.
func BenchmarkBuiltinGrid(b *testing.B) {
	_, _, p := builtinBench(b)
	opts := sd.GenerateOptions{Prompt: "a blue robot waving on a dotted background", Steps: 20, CFG: 7.5}
	if _, err := p.Generate(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	seeds := make([]uint64, 16)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := p.GenerateBatch(context.Background(), opts, seeds); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/grid")
}

// BenchmarkBuiltinGridTwoPipelines draws the same 4x4 grid as two batches
// of 8 at once, each on its own copy of the model (as `kata world eval`
// draws two images at once): what the pure-Go backend gains when both
// cores have a graph execution to run, against BenchmarkBuiltinGrid.
func BenchmarkBuiltinGridTwoPipelines(b *testing.B) {
	be, _, p := builtinBench(b)
	_, p2 := builtinPipeline(b, be)
	opts := sd.GenerateOptions{Prompt: "a blue robot waving on a dotted background", Steps: 20, CFG: 7.5}
	for _, q := range []*sd.Pipeline{p, p2} {
		if _, err := q.GenerateBatch(context.Background(), opts, []uint64{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
			b.Fatal(err)
		}
	}
	halves := [][]uint64{{1, 2, 3, 4, 5, 6, 7, 8}, {9, 10, 11, 12, 13, 14, 15, 16}}
	b.ResetTimer()
	for range b.N {
		err := parallel.ForWidth(2, 2, func(i int) error {
			_, err := []*sd.Pipeline{p, p2}[i].GenerateBatch(context.Background(), opts, halves[i])
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/grid")
}

// BenchmarkBuiltinADI500 trains an ADI identifier for 500 steps on a Kata
// World handstand set of 10 exemplars at the model's size, synthesised
// negatives included.
func BenchmarkBuiltinADI500(b *testing.B) {
	be, m, p := builtinBench(b)
	base, err := adi.NewBase(be, m, adi.BaseOptions{Pipeline: p})
	if err != nil {
		b.Fatal(err)
	}
	set, err := world.ExemplarSet("handstand", 1, world.ExemplarCount)
	if err != nil {
		b.Fatal(err)
	}
	ex := make([]adi.Exemplar, len(set))
	for i, e := range set {
		ex[i] = adi.Exemplar{Name: e.Name, Image: world.Render(e.Scene, m.NativeSize()), Template: e.Template}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := adi.Train(context.Background(), base, ex, adi.Options{Method: adi.MethodADI, Name: "handstand", Steps: 500, Seed: 1}, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/500-steps")
}
