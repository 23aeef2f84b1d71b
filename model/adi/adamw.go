package adi

import (
	"fmt"
	"math"
)

// AdamWConfig holds AdamW's hyper-parameters (decoupled weight decay, as in
// torch.optim.AdamW). Zero fields take the defaults of DefaultAdamW.
type AdamWConfig struct {
	LR          float64 // learning rate; default 5e-3 (P+/ADI layer-wise tokens)
	Beta1       float64 // first-moment decay; default 0.9
	Beta2       float64 // second-moment decay; default 0.999
	Epsilon     float64 // denominator guard; default 1e-8
	WeightDecay float64 // decoupled decay; default 1e-2 (negative means none)
	// Lazy leaves an entry whose gradient is exactly zero as it is for the
	// step: no decay, no moment update, no move (sparse Adam). Plain AdamW
	// keeps moving such an entry on its old momentum (about 0.67 lr on the
	// first zero step after one gradient), which ADI's masks, zeroing most
	// of V at every step, turn into drift. Default false.
	Lazy bool `json:",omitempty"`
}

// DefaultAdamW returns lr 5e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{LR: 5e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 1e-2}
}

func (c AdamWConfig) withDefaults() AdamWConfig {
	d := DefaultAdamW()
	if c.LR == 0 {
		c.LR = d.LR
	}
	if c.Beta1 == 0 {
		c.Beta1 = d.Beta1
	}
	if c.Beta2 == 0 {
		c.Beta2 = d.Beta2
	}
	if c.Epsilon == 0 {
		c.Epsilon = d.Epsilon
	}
	if c.WeightDecay == 0 {
		c.WeightDecay = d.WeightDecay
	}
	if c.WeightDecay < 0 {
		c.WeightDecay = 0
	}
	return c
}

// AdamW optimises a flat float32 parameter vector on the host. The learned
// identifier is tiny (L x D), so a host optimiser costs nothing and its state
// (M, V, Step) is plain data that checkpoints save and restore exactly.
type AdamW struct {
	Config AdamWConfig
	M, V   []float32 // moment estimates, one per parameter
	Step   int       // updates applied so far
}

// NewAdamW returns an optimiser with zero moments for n parameters.
func NewAdamW(cfg AdamWConfig, n int) *AdamW {
	return &AdamW{Config: cfg.withDefaults(), M: make([]float32, n), V: make([]float32, n)}
}

// Update applies one AdamW step to params in place with gradient grad.
// Arithmetic is float64 per element, rounded back to float32, in a fixed
// order, so results are identical across runs and resumes. It is Begin and
// one Apply over all the parameters.
func (o *AdamW) Update(params, grad []float32) error {
	if len(params) != len(o.M) || len(grad) != len(o.M) {
		return fmt.Errorf("adamw: %d params and %d gradients for an optimiser of %d", len(params), len(grad), len(o.M))
	}
	o.Begin().Apply(params, grad, 0, len(params))
	return nil
}

// AdamWStep is one AdamW update under way (see AdamW.Begin).
type AdamWStep struct {
	c        AdamWConfig
	m, v     []float32
	bc1, bc2 float64
}

// Begin counts one update and returns it, to be applied with Apply to
// ranges of the parameters: disjoint ranges may be applied concurrently, and
// since every element's arithmetic is Update's, how the parameters are split
// changes no bit of the result. The step uses Config as it is now.
func (o *AdamW) Begin() AdamWStep {
	c := o.Config
	o.Step++
	return AdamWStep{c: c, m: o.M, v: o.V,
		bc1: 1 - math.Pow(c.Beta1, float64(o.Step)), bc2: 1 - math.Pow(c.Beta2, float64(o.Step))}
}

// Apply updates params[lo:hi] and their moments in place with grad[lo:hi];
// params and grad are the optimiser's whole vectors.
func (s AdamWStep) Apply(params, grad []float32, lo, hi int) {
	c := s.c
	for k := lo; k < hi; k++ {
		p, g := float64(params[k]), float64(grad[k])
		if c.Lazy && g == 0 {
			continue
		}
		p -= c.LR * c.WeightDecay * p
		m := c.Beta1*float64(s.m[k]) + (1-c.Beta1)*g
		v := c.Beta2*float64(s.v[k]) + (1-c.Beta2)*g*g
		s.m[k], s.v[k] = float32(m), float32(v)
		p -= c.LR * (m / s.bc1) / (math.Sqrt(v/s.bc2) + c.Epsilon)
		params[k] = float32(p)
	}
}
