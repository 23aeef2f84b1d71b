package bench

import (
	"fmt"
	"math"
)

// Z95 is the standard normal quantile of a two-sided 95% interval.
const Z95 = 1.959963984540054

// Rate is K successes out of N trials (images judged correct out of judged).
type Rate struct {
	K, N int
}

// Percent is 100 K / N, NaN when N is 0.
func (r Rate) Percent() float64 {
	if r.N == 0 {
		return math.NaN()
	}
	return 100 * float64(r.K) / float64(r.N)
}

// Wilson is the 95% Wilson score interval of r, in percent; NaNs when N is 0.
func (r Rate) Wilson() (lo, hi float64) {
	lo, hi = Wilson(r.K, r.N, Z95)
	return 100 * lo, 100 * hi
}

// String formats r as "51.1 [45.2, 57.0]": percent and 95% Wilson interval.
func (r Rate) String() string {
	if r.N == 0 {
		return "-"
	}
	lo, hi := r.Wilson()
	return fmt.Sprintf("%.1f [%.1f, %.1f]", r.Percent(), lo, hi)
}

// Wilson returns the Wilson score interval of k successes in n trials at
// normal quantile z, as proportions in [0, 1]:
//
//	(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n),  p = k/n.
//
// Unlike p ± z sqrt(p(1-p)/n) it stays inside [0, 1] and is not empty at
// k = 0 or k = n. It returns NaNs when n is 0 or k is outside [0, n].
func Wilson(k, n int, z float64) (lo, hi float64) {
	if n <= 0 || k < 0 || k > n {
		return math.NaN(), math.NaN()
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return max(0, centre-half), min(1, centre+half)
}
