package scheduler

import "math"

// Parameters of AUTOMATIC1111's "Beta" schedule type (its options
// beta_dist_alpha and beta_dist_beta, 0.6 by default).
const (
	BetaScheduleAlpha = 0.6
	BetaScheduleBeta  = 0.6
)

// betaSigmas is AUTOMATIC1111's beta_scheduler ("Beta Sampling is All You
// Need", Lee et al. 2024): n levels σmin + q_k (σmax - σmin) where q_k is
// the Beta(α, β) quantile of 1 - k/(n-1), then 0.
func betaSigmas(n int, lo, hi, a, b float64) []float64 {
	out := make([]float64, 0, n+1)
	for _, p := range numpyLinspace(0, 1, n) {
		out = append(out, lo+betaQuantile(1-p, a, b)*(hi-lo))
	}
	return append(out, 0)
}

// betaQuantile is the inverse of the regularised incomplete beta function
// (scipy.stats.beta.ppf), found by bisection to float64 precision.
func betaQuantile(p, a, b float64) float64 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	lo, hi := 0.0, 1.0
	for range 200 {
		mid := (lo + hi) / 2
		if mid == lo || mid == hi {
			break
		}
		if regIncBeta(mid, a, b) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// regIncBeta is I_x(a, b), the Beta(a, b) distribution function, by the
// continued fraction of Numerical Recipes (betacf, modified Lentz), using
// the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where it converges faster.
func regIncBeta(x, a, b float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(x, a, b) / a
	}
	return 1 - front*betaCF(1-x, b, a)/b
}

func betaCF(x, a, b float64) float64 {
	const tiny, eps = 1e-300, 1e-16
	qab, qap, qam := a+b, a+1, a-1
	c, d := 1.0, 1-qab*x/qap
	if math.Abs(d) < tiny {
		d = tiny
	}
	d = 1 / d
	h := d
	// lentz takes one modified-Lentz step with coefficient aa and returns
	// the factor it multiplies h by.
	lentz := func(aa float64) float64 {
		d = 1 + aa*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = 1 + aa/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		return d * c
	}
	for m := 1; m <= 1000; m++ {
		fm := float64(m)
		h *= lentz(fm * (b - fm) * x / ((qam + 2*fm) * (a + 2*fm)))
		del := lentz(-(a + fm) * (qab + fm) * x / ((a + 2*fm) * (qap + 2*fm)))
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}
