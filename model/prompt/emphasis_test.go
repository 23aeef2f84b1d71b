package prompt

import (
	"math"
	"testing"
)

func TestEmphasize(t *testing.T) {
	cases := []struct {
		name      string
		z         []float32
		w         []float64
		normalize bool
		want      []float64
	}{
		// mean(z) = 2.5, z·w = [1,2,3.3,4.4] with mean 2.675: scale 2.5/2.675
		{"original", []float32{1, 2, 3, 4}, []float64{1, 1.1}, true,
			[]float64{1 * 2.5 / 2.675, 2 * 2.5 / 2.675, 3.3 * 2.5 / 2.675, 4.4 * 2.5 / 2.675}},
		{"no norm", []float32{1, 2, 3, 4}, []float64{1, 1.1}, false, []float64{1, 2, 3.3, 4.4}},
		{"unit weights", []float32{-1, 5, 0.5, 2}, []float64{1, 1}, true, []float64{-1, 5, 0.5, 2}},
		// weighted mean 0: left unscaled
		{"zero mean", []float32{1, -1, 2, -2}, []float64{2, 1}, true, []float64{2, -2, 2, -2}},
	}
	for _, c := range cases {
		z := append([]float32(nil), c.z...)
		if err := Emphasize(z, 2, c.w, c.normalize); err != nil {
			t.Fatal(err)
		}
		var mean, want float64
		for i := range z {
			if math.Abs(float64(z[i])-c.want[i]) > 1e-6 {
				t.Errorf("%s: z[%d] = %g, want %g", c.name, i, z[i], c.want[i])
			}
			mean += float64(z[i])
			want += float64(c.z[i])
		}
		if c.normalize && c.name != "zero mean" && math.Abs(mean-want) > 1e-5 {
			t.Errorf("%s: mean %g not restored to %g", c.name, mean/4, want/4)
		}
	}
	if err := Emphasize(make([]float32, 5), 2, []float64{1, 1}, true); err == nil {
		t.Error("length mismatch accepted")
	}
}
