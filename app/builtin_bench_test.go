package app

import (
	"context"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"kata/model/adi"
	"kata/model/backend"
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

// concurrencyCases are the two ways the Builtin benchmarks draw: as the
// pipeline does by default (sd.GenerateOptions.Concurrent 0: two graph
// executions at once on the pure-Go backend) and one execution at a time.
var concurrencyCases = []struct {
	name       string
	concurrent int
}{{"default", 0}, {"one execution at a time", 1}}

// BenchmarkBuiltinGrid draws a 4x4 grid (16 images, 20 DDIM steps, CFG 7.5,
// in one batch) after a warm-up grid that compiles the graphs: as the
// pipeline draws it by default (two graph executions of each step at once
// on the pure-Go backend, sd.DefaultConcurrent) and one execution at a time.
func BenchmarkBuiltinGrid(b *testing.B) {
	_, _, p := builtinBench(b)
	seeds := make([]uint64, 16)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	for _, bc := range concurrencyCases {
		b.Run(bc.name, func(b *testing.B) {
			opts := sd.GenerateOptions{Prompt: "a blue robot waving on a dotted background", Steps: 20, CFG: 7.5, Concurrent: bc.concurrent}
			if _, err := p.GenerateBatch(context.Background(), opts, seeds); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := p.GenerateBatch(context.Background(), opts, seeds); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/grid")
		})
	}
}

// BenchmarkBuiltinImage draws one image (20 DDIM steps, CFG 7.5), as each
// of the window's generation jobs does, after a warm-up image: by default
// (its unconditional and conditional passes as two executions at once on
// the pure-Go backend) and as one execution of both.
func BenchmarkBuiltinImage(b *testing.B) {
	_, _, p := builtinBench(b)
	for _, bc := range concurrencyCases {
		b.Run(bc.name, func(b *testing.B) {
			opts := sd.GenerateOptions{Prompt: "a blue robot waving on a dotted background", Steps: 20, CFG: 7.5, Concurrent: bc.concurrent}
			if _, err := p.Generate(context.Background(), opts); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				opts.Seed = uint64(i + 1)
				if _, err := p.Generate(context.Background(), opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/image")
		})
	}
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
