package adi

import (
	"context"
	"image"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"kata/model/backend"
	"kata/model/sd"
)

// BenchmarkStep measures one optimiser step (batch 1) of each method on
// sd-tiny (64x64 images) with the pure-Go backend:
// go test -run XXX -bench Step ./model/adi
func BenchmarkStep(b *testing.B) {
	for _, method := range []Method{MethodTI, MethodPPlus, MethodADI} {
		b.Run(string(method), func(b *testing.B) {
			base := tinyBase(b)
			tr, err := prepare(context.Background(), base, testExemplars(2), Options{Method: method, Name: "bench"}, func(Event) {})
			if err != nil {
				b.Fatal(err)
			}
			init, err := tr.initVector()
			if err != nil {
				b.Fatal(err)
			}
			var vectors []float32
			for range tr.lv {
				vectors = append(vectors, init...)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			if _, _, _, err := tr.gradient(rng, vectors); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, _, _, err := tr.gradient(rng, vectors); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSD15Train times a whole ADI training run of an SD 1.5-size model
// with random weights (sd.NewRandom) at its native 512 px (64x64 latents) on
// the backend KATA_BACKEND selects, e.g. on a GPU machine:
//
//	KATA_BACKEND=xla:cuda KATA_BENCH_SD15=1 adi.test -test.run '^$' -test.bench SD15Train -test.benchtime 1x
//
// It runs KATA_BENCH_SD15_STEPS optimiser steps (default 100) with the split
// mode KATA_BENCH_SD15_SPLIT (auto, samples or batch; default auto) and reports
// steps/s after the first step (which includes compiling the graphs) and the
// first step's time. It is skipped unless KATA_BENCH_SD15=1: SD 1.5 needs
// ~4 GB of weights, and on the pure-Go backend one step takes minutes.
func BenchmarkSD15Train(b *testing.B) {
	if os.Getenv("KATA_BENCH_SD15") != "1" {
		b.Skip("set KATA_BENCH_SD15=1 to run (SD 1.5 size)")
	}
	steps := 100
	if s := os.Getenv("KATA_BENCH_SD15_STEPS"); s != "" {
		var err error
		if steps, err = strconv.Atoi(s); err != nil || steps < 2 {
			b.Fatalf("KATA_BENCH_SD15_STEPS=%q: want a number >= 2", s)
		}
	}
	split, err := ParseSplitMode(os.Getenv("KATA_BENCH_SD15_SPLIT"))
	if err != nil {
		b.Fatal(err)
	}
	be, err := backend.New("")
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("backend: %s; split mode %q", backend.Resolve(""), split)
	m, err := sd.NewRandom(sd.SD15TextConfig(), sd.SD15UNetConfig(), sd.SD15VAEConfig(), 1)
	if err != nil {
		b.Fatal(err)
	}
	invert := func(ctx context.Context, img image.Image, prompt string, strength float64, seed uint64) (image.Image, error) {
		return imaging.Invert(img), nil
	}
	base := Base{Model: m, Backend: be, Img2Img: invert}
	exemplars := []Exemplar{{Image: testImage(512, 512)}, {Image: testImage(576, 512)}}
	for range b.N {
		var first, last time.Time
		start := time.Now()
		_, err := Train(context.Background(), base, exemplars, Options{Method: MethodADI, Name: "bench", Steps: steps, Memory: MemoryOptions{Split: split}},
			func(e Event) {
				if e.Kind != EventStep {
					return
				}
				if e.Step == 1 {
					first = time.Now()
				}
				last = time.Now()
			})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(steps-1)/last.Sub(first).Seconds(), "steps/s")
		b.ReportMetric(first.Sub(start).Seconds(), "setup+first-step-s")
	}
}
