package vmath

// Sum returns the sum of x (summed in a different order than a plain loop).
func Sum(x []float32) float32 {
	done, s := sumSIMD(x)
	for _, v := range x[done:] {
		s += v
	}
	return s
}

// Max returns the largest element of x, or NaN if any element is NaN, like
// folding Go's max over x. x must not be empty.
func Max(x []float32) float32 {
	done, m := maxSIMD(x)
	if done == 0 {
		m = x[0]
	}
	for _, v := range x[done:] {
		m = max(m, v)
	}
	return m
}
