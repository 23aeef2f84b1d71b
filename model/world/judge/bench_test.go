package judge

import (
	stdcontext "context"
	"testing"
)

// BenchmarkTrainStep measures one optimiser step of both judges at the
// shipped widths and the default batch, on the toy source (data drawing
// runs concurrently, as in real training).
// CGO_ENABLED=0 go test -run - -bench TrainStep -benchtime 40x ./model/world/judge/
func BenchmarkTrainStep(b *testing.B) {
	be := testBackend(b)
	opts := TrainOptions{Steps: b.N, Dir: b.TempDir(), SaveEvery: 1 << 30}
	b.ResetTimer()
	if _, err := Train(stdcontext.Background(), be, toyWorld{}, opts); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAugment measures Augment with the default recipe on one 64x64 image.
func BenchmarkAugment(b *testing.B) {
	img, _ := toyWorld{}.Draw(newRand(1, 1))
	a := DefaultAugmentation()
	rng := newRand(2, 2)
	b.ResetTimer()
	for range b.N {
		Augment(img, a, rng)
	}
}
