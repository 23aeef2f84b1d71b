package backend

import "testing"

func TestFillF32(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 33, 100, 1024} {
		row := make([]float32, n+1)
		row[n] = -7 // sentinel past the filled part
		fillF32(row[:n], 2.5)
		for i, v := range row[:n] {
			if v != 2.5 {
				t.Fatalf("n=%d: row[%d] = %g", n, i, v)
			}
		}
		if row[n] != -7 {
			t.Fatalf("n=%d: wrote past the row", n)
		}
	}
}
