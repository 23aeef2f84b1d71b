package adi

import (
	"math"
	"testing"
)

// TestAdamWFirstSteps checks AdamW against values worked out by hand from
// torch.optim.AdamW's update rule.
func TestAdamWFirstSteps(t *testing.T) {
	o := NewAdamW(AdamWConfig{LR: 0.1, WeightDecay: 0.5}, 2)
	p := []float32{1, -2}
	if err := o.Update(p, []float32{0.5, -4}); err != nil {
		t.Fatal(err)
	}
	// Step 1: decay p*(1-lr*wd) = p*0.95; bias-corrected m/sqrt(v) = sign(g),
	// so p -= 0.1*g/(|g|+1e-8).
	want := []float64{0.95 - 0.1*0.5/(0.5+1e-8), -1.9 + 0.1*4/(4+1e-8)}
	for i := range p {
		if math.Abs(float64(p[i])-want[i]) > 1e-6 {
			t.Errorf("step 1 p[%d] = %v, want %v", i, p[i], want[i])
		}
	}
	// Step 2 with g = 0: m = 0.9*0.1*g1 -> mhat = 0.09 g1/0.19, v = 0.999*0.001 g1^2,
	// vhat = 0.000999 g1^2/0.001999.
	q := []float64{float64(p[0]), float64(p[1])}
	if err := o.Update(p, []float32{0, 0}); err != nil {
		t.Fatal(err)
	}
	for i, g1 := range []float64{0.5, -4} {
		mhat := 0.09 * g1 / 0.19
		vhat := 0.000999 * g1 * g1 / (1 - 0.999*0.999)
		w := q[i]*0.95 - 0.1*mhat/(math.Sqrt(vhat)+1e-8)
		if math.Abs(float64(p[i])-w) > 1e-6 {
			t.Errorf("step 2 p[%d] = %v, want %v", i, p[i], w)
		}
	}
	if o.Step != 2 {
		t.Errorf("step count %d", o.Step)
	}
	if err := o.Update(p[:1], []float32{1}); err == nil {
		t.Errorf("size mismatch: no error")
	}
}

// TestAdamWLazy: with Lazy, an entry with a zero gradient keeps its value
// and moments while the others take plain AdamW's step.
func TestAdamWLazy(t *testing.T) {
	plain := NewAdamW(AdamWConfig{LR: 0.1, WeightDecay: 0.5}, 2)
	lazy := NewAdamW(AdamWConfig{LR: 0.1, WeightDecay: 0.5, Lazy: true}, 2)
	p, q := []float32{1, -2}, []float32{1, -2}
	steps := []struct {
		grad       []float32
		lazyFrozen []bool // entries Lazy must leave as they were
	}{
		{[]float32{0.5, -4}, []bool{false, false}},
		{[]float32{0, -1}, []bool{true, false}},
		{[]float32{0, 0}, []bool{true, true}},
	}
	for i, s := range steps {
		before, m, v := append([]float32(nil), q...), append([]float32(nil), lazy.M...), append([]float32(nil), lazy.V...)
		if err := plain.Update(p, s.grad); err != nil {
			t.Fatal(err)
		}
		if err := lazy.Update(q, s.grad); err != nil {
			t.Fatal(err)
		}
		for k, frozen := range s.lazyFrozen {
			switch {
			case frozen && (q[k] != before[k] || lazy.M[k] != m[k] || lazy.V[k] != v[k]):
				t.Errorf("step %d: entry %d with zero gradient changed: %v -> %v", i+1, k, before[k], q[k])
			case !frozen && i == 0 && q[k] != p[k]:
				t.Errorf("step 1: entry %d %v, plain AdamW's %v", k, q[k], p[k])
			case !frozen && q[k] == before[k]:
				t.Errorf("step %d: entry %d with a gradient did not move", i+1, k)
			}
		}
	}
	// Plain AdamW moved entry 0 on its momentum alone at step 2.
	if p[0] == q[0] {
		t.Errorf("plain AdamW left a zero-gradient entry where Lazy did (%v)", p[0])
	}
}
