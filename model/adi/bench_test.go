package adi

import (
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkStep measures one optimiser step (batch 1) of each method on
// sd-tiny (64x64 images) with the pure-Go backend:
// go test -run XXX -bench Step ./model/adi
func BenchmarkStep(b *testing.B) {
	for _, method := range []Method{MethodTI, MethodPPlus, MethodADI} {
		b.Run(string(method), func(b *testing.B) {
			base := tinyBase(b)
			dir := exemplarDir(b, 2)
			tr, err := prepare(context.Background(), base, []string{dir}, Options{Method: method, Name: "bench"}, func(Event) {})
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
			if _, _, err := tr.gradient(rng, vectors); err != nil { // compile outside the timing
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, _, err := tr.gradient(rng, vectors); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
