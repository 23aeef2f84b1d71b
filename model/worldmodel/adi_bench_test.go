package worldmodel

import (
	"context"
	"os"
	"strconv"
	"testing"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/sd"
	"kata/model/world"
)

// BenchmarkADI trains an ADI identifier on Kata World's architecture with
// random weights (the speed does not depend on them; app's
// BenchmarkBuiltinADI500 times the shipped model) from the world's
// handstand set of 10 exemplars, synthesised negatives included, for
// KATA_BENCH_ADI_STEPS steps (default 50), with the triple's three passes
// one after another ("one-by-one") and as adi's default runs them on this
// model, all at once (adi.MemoryOptions.Concurrent):
//
//	CGO_ENABLED=0 go test ./model/worldmodel -run '^$' -bench '^BenchmarkADI$' -benchtime 1x
func BenchmarkADI(b *testing.B) {
	steps := 50
	if s, err := strconv.Atoi(os.Getenv("KATA_BENCH_ADI_STEPS")); err == nil && s > 0 {
		steps = s
	}
	be, err := backend.New("go")
	if err != nil {
		b.Fatal(err)
	}
	arch := Architecture()
	m, err := sd.NewRandom(arch.Text, arch.UNet, arch.VAE, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Finalize()
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Finalize()
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
	for _, mode := range []struct {
		name       string
		concurrent int
	}{{"one-by-one", 1}, {"default", 0}} {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				o := adi.Options{Method: adi.MethodADI, Name: "handstand", Steps: steps, Seed: 1,
					Memory: adi.MemoryOptions{Concurrent: mode.concurrent}}
				if _, err := adi.Train(context.Background(), base, ex, o, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/run")
		})
	}
}
