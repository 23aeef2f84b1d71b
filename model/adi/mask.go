package adi

import (
	"fmt"
	"math"
	"slices"
)

// QuantileScope says over which numbers the beta-quantiles of the gradient
// mask are taken.
type QuantileScope string

const (
	// ScopePerLayer takes the quantiles over each layer-token vector v_i
	// (D numbers) separately: every layer keeps the same share of its entries.
	ScopePerLayer QuantileScope = "layer"
	// ScopeAll takes the quantiles over all L x D numbers of V at once.
	ScopeAll QuantileScope = "all"
)

// MaskConfig holds the settings of ADI's gradient mask.
type MaskConfig struct {
	// Beta is the quantile level in [0, 1]; default 0.5.
	Beta float64
	// Scope picks per-layer or whole-V quantiles; default ScopePerLayer.
	Scope QuantileScope
}

// DefaultMaskConfig returns beta 0.5 with per-layer quantiles (../shared/docs/ADI.md's start).
func DefaultMaskConfig() MaskConfig { return MaskConfig{Beta: 0.5, Scope: ScopePerLayer} }

// Validate checks Beta's range and the scope's name.
func (c MaskConfig) Validate() error {
	if math.IsNaN(c.Beta) || c.Beta < 0 || c.Beta > 1 {
		return fmt.Errorf("mask beta %v outside [0, 1]", c.Beta)
	}
	switch c.Scope {
	case ScopePerLayer, ScopeAll:
		return nil
	}
	return fmt.Errorf("mask quantile scope %q: want %q or %q", c.Scope, ScopePerLayer, ScopeAll)
}

// Quantile returns the q-quantile of xs with linear interpolation between
// order statistics (numpy's and torch's default): position q*(n-1) in the
// sorted values. xs is not modified. It returns NaN for an empty slice.
func Quantile(xs []float32, q float64) float64 {
	n := len(xs)
	if n == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	if lo < 0 {
		lo = 0
	}
	if lo >= n-1 {
		return float64(s[n-1])
	}
	frac := pos - float64(lo)
	return float64(s[lo]) + frac*(float64(s[lo+1])-float64(s[lo]))
}

// Masks holds ADI's two masks, each of V's size (1 keeps the entry, 0 drops it).
type Masks struct {
	Context []float32 // m_c: 1 where |g_a - g_p| < its beta-quantile
	Action  []float32 // m_s: 1 where |g_a - g_n| >= its beta-quantile
}

// keptShare is the share of entries both masks keep.
func (m Masks) keptShare() float64 {
	if len(m.Context) == 0 {
		return 0
	}
	kept := 0
	for k, c := range m.Context {
		if c != 0 && m.Action[k] != 0 {
			kept++
		}
	}
	return float64(kept) / float64(len(m.Context))
}

// ComputeMasks builds the context and action masks of ../shared/docs/ADI.md from the
// anchor, context-different (positive) and action-different (negative)
// gradients, each flattened [layers*width] row-major with `layers` rows.
func ComputeMasks(ga, gp, gn []float32, layers int, cfg MaskConfig) (Masks, error) {
	if err := cfg.Validate(); err != nil {
		return Masks{}, err
	}
	n := len(ga)
	if len(gp) != n || len(gn) != n {
		return Masks{}, fmt.Errorf("gradient mask: sizes differ (anchor %d, positive %d, negative %d)", n, len(gp), len(gn))
	}
	if layers <= 0 || n%layers != 0 {
		return Masks{}, fmt.Errorf("gradient mask: %d numbers do not split into %d layers", n, layers)
	}
	dp := make([]float32, n)
	dn := make([]float32, n)
	for k := range n {
		dp[k] = float32(math.Abs(float64(ga[k]) - float64(gp[k])))
		dn[k] = float32(math.Abs(float64(ga[k]) - float64(gn[k])))
	}
	m := Masks{Context: make([]float32, n), Action: make([]float32, n)}
	groups, size := 1, n
	if cfg.Scope == ScopePerLayer {
		groups, size = layers, n/layers
	}
	for g := range groups {
		lo, hi := g*size, (g+1)*size
		qp := Quantile(dp[lo:hi], cfg.Beta)
		qn := Quantile(dn[lo:hi], cfg.Beta)
		for k := lo; k < hi; k++ {
			if float64(dp[k]) < qp {
				m.Context[k] = 1
			}
			if float64(dn[k]) >= qn {
				m.Action[k] = 1
			}
		}
	}
	return m, nil
}

// MaskedGradient returns g = g_a * m_c * m_s, the update direction ADI feeds
// to AdamW, together with the masks (for diagnostics).
func MaskedGradient(ga, gp, gn []float32, layers int, cfg MaskConfig) ([]float32, Masks, error) {
	m, err := ComputeMasks(ga, gp, gn, layers, cfg)
	if err != nil {
		return nil, Masks{}, err
	}
	g := make([]float32, len(ga))
	for k := range ga {
		g[k] = ga[k] * m.Context[k] * m.Action[k]
	}
	return g, m, nil
}
