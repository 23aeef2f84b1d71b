package prompt

import "fmt"

// Emphasize applies attention weights to the text encoder's output for one
// chunk as AUTOMATIC1111's "Original" emphasis does: z holds len(weights)
// token vectors of width dim (row-major [tokens, dim]); every vector is
// multiplied by its token's weight, then all of z is rescaled so that its
// mean over all values equals the mean before weighting:
//
//	z'[t,k] = z[t,k] w[t] · mean(z) / mean(z·w)
//
// With normalize false only the multiplication is done (A1111's "No norm").
// z is changed in place. Means are accumulated in float64; when the
// weighted mean is 0 the rescaling is skipped.
func Emphasize(z []float32, dim int, weights []float64, normalize bool) error {
	if dim < 1 || len(z) != dim*len(weights) {
		return fmt.Errorf("prompt: emphasis on %d values with %d weights of width %d", len(z), len(weights), dim)
	}
	var before, after float64
	for t, w := range weights {
		row := z[t*dim : (t+1)*dim]
		for k, v := range row {
			before += float64(v)
			scaled := float32(float64(v) * w)
			row[k] = scaled
			after += float64(scaled)
		}
	}
	if !normalize || after == 0 {
		return nil
	}
	scale := before / after
	for i, v := range z {
		z[i] = float32(float64(v) * scale)
	}
	return nil
}
