package sd

import (
	gocontext "context"
	"sync/atomic"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"kata/model/sd/sdtest"
)

// countingBackend counts the graphs built on it (one Builder per compiled graph).
type countingBackend struct {
	backends.Backend
	builders atomic.Int64
}

func (b *countingBackend) Builder(name string) backends.Builder {
	b.builders.Add(1)
	return b.Backend.Builder(name)
}

// TestPipelineCompilesOnce checks that a pipeline compiles its graphs on the
// first generation only: a second one of the same size (another prompt,
// seed, step count and sampler, as the window's next click) builds no graph,
// and only a new size does.
func TestPipelineCompilesOnce(t *testing.T) {
	be := &countingBackend{Backend: fixtureBackend(t)}
	// A model of its own: tensors used on one backend value cannot be used
	// on another, and the wrapper is another.
	m, err := Load(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	p, err := NewPipeline(be, m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	gen := func(opts GenerateOptions) int64 {
		t.Helper()
		before := be.builders.Load()
		if _, err := p.Generate(gocontext.Background(), opts); err != nil {
			t.Fatal(err)
		}
		return be.builders.Load() - before
	}
	first := gen(GenerateOptions{Prompt: "a cat", Steps: 2, Seed: 1})
	if first == 0 {
		t.Fatal("the first generation built no graph: the count checks nothing")
	}
	if n := gen(GenerateOptions{Prompt: "a dog on a hill", Negative: "blurry", Steps: 3, Sampler: "euler_a", Seed: 2}); n != 0 {
		t.Errorf("second generation of the same size built %d graphs (first: %d)", n, first)
	}
	if n := gen(GenerateOptions{Prompt: "a cat", Steps: 1, Seed: 3, Width: 32, Height: 64}); n == 0 {
		t.Error("a new image size built no graph")
	}
	t.Logf("graphs built: first generation %d", first)
}
