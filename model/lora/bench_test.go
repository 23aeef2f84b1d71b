package lora

import (
	gocontext "context"
	"path/filepath"
	"testing"

	"kata/model/sd"
	"kata/model/sd/sdtest"
)

// BenchmarkGenerate20 times a 20-step sd-tiny generation (Euler, CFG 7.5,
// 64x64) on the fixture backend without a LoRA and with one LoRA of every
// layer kind merged in (run: go test -bench Generate20 ./model/lora/). The
// LoRA is merged once before timing, so both cases run the same graphs on
// the same number of weights.
func BenchmarkGenerate20(b *testing.B) {
	for _, withLoRA := range []bool{false, true} {
		name := "plain"
		if withLoRA {
			name = "one_lora"
		}
		b.Run(name, func(b *testing.B) {
			m, err := sd.Load(sdtest.TinyDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer m.Finalize()
			if withLoRA {
				path := filepath.Join(b.TempDir(), "bench.safetensors")
				writeKohya(b, path, fixtureFactors(9))
				l, err := Load(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Apply(m, Use{l, 0.8, 0.8}); err != nil {
					b.Fatal(err)
				}
			}
			p, err := sd.NewPipeline(fixtureBackend(b), m)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Finalize()
			opts := sd.GenerateOptions{Prompt: "a cat", Negative: "blurry", Steps: 20, Sampler: "Euler", Seed: 1}
			if _, err := p.Generate(gocontext.Background(), opts); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := p.Generate(gocontext.Background(), opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApply times merging one LoRA of every layer kind into sd-tiny
// and restoring it (run: go test -bench Apply ./model/lora/).
func BenchmarkApply(b *testing.B) {
	m, err := sd.Load(sdtest.TinyDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Finalize()
	path := filepath.Join(b.TempDir(), "bench.safetensors")
	writeKohya(b, path, fixtureFactors(9))
	l, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		p, err := Apply(m, Use{l, 0.8, 0.8})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Restore(); err != nil {
			b.Fatal(err)
		}
	}
}
