package sd

import (
	"math"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestTileStarts(t *testing.T) {
	for _, c := range []struct {
		n, tile, overlap int
		want             []int
	}{
		{8, 8, 2, []int{0}},
		{5, 8, 2, []int{0}},
		{8, 6, 2, []int{0, 2}},
		{64, 48, 16, []int{0, 16}},
		{128, 48, 16, []int{0, 32, 64, 80}},
		{10, 4, 0, []int{0, 4, 6}},
	} {
		got := tileStarts(c.n, c.tile, c.overlap)
		if !slices.Equal(got, c.want) {
			t.Errorf("tileStarts(%d, %d, %d) = %v, want %v", c.n, c.tile, c.overlap, got, c.want)
		}
		for i := 1; i < len(got); i++ {
			if got[i-1]+c.tile-got[i] < c.overlap {
				t.Errorf("tileStarts(%d, %d, %d): tiles %d and %d overlap by less than %d", c.n, c.tile, c.overlap, i-1, i, c.overlap)
			}
		}
	}
}

// TestDecodeTiledLocal checks the tiling and blending with a decoder that is
// local (each output pixel depends on its own latent only): then the blended
// tiles must equal the untiled decode up to rounding, whatever the tiles.
func TestDecodeTiledLocal(t *testing.T) {
	const lc, h, w, factor = 2, 11, 7, 4
	x := make([]float32, lc*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	// Three output channels of an 4x nearest upsampling.
	local := func(in *tensors.Tensor) (*tensors.Tensor, error) {
		d := in.Shape().Dimensions
		th, tw := d[2], d[3]
		v := tensors.MustCopyFlatData[float32](in)
		out := make([]float32, 3*th*factor*tw*factor)
		for c := range 3 {
			for y := range th * factor {
				for xx := range tw * factor {
					out[(c*th*factor+y)*tw*factor+xx] = v[((c%lc)*th+y/factor)*tw+xx/factor]*float32(c+1) + float32(c)
				}
			}
		}
		return tensors.FromFlatDataAndDimensions(out, 1, 3, th*factor, tw*factor), nil
	}
	whole, _, err := decodeTiled(x, lc, h, w, max(h, w), 0, factor, local)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tile, overlap int }{{4, 1}, {5, 2}, {6, 3}, {3, 0}, {7, 6}} {
		got, channels, err := decodeTiled(x, lc, h, w, c.tile, c.overlap, factor, local)
		if err != nil {
			t.Fatal(err)
		}
		if channels != 3 || len(got) != len(whole) {
			t.Fatalf("tile %d: %d channels, %d values", c.tile, channels, len(got))
		}
		for i := range whole {
			if math.Abs(float64(got[i]-whole[i])) > 1e-5 {
				t.Fatalf("tile %d overlap %d: value %d is %g, untiled %g", c.tile, c.overlap, i, got[i], whole[i])
			}
		}
	}
	if _, _, err := decodeTiled(x, lc, h, w, 4, 4, factor, local); err == nil {
		t.Error("overlap = tile: no error")
	}
}

// TestDecodeTiledTiny decodes the sd-tiny fixture's final latents (8x8) in
// tiles and compares with the untiled decode. The real decoder is not local
// (group norms, attention over all pixels), so tiles differ, and on a map
// this small (tiles of 4-7 of its 8 latents) by a lot: the bounds are the
// measured errors (logged) with a quarter of margin, the stated tolerance of
// the approximation at these sizes.
func TestDecodeTiledTiny(t *testing.T) {
	m := tinyModel(t, "diffusers")
	p, err := NewPipeline(fixtureBackend(t), m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	x := tensors.MustCopyFlatData[float32](refTensor(t, "e2e_final_latent"))
	lc, h, w := m.VAE.LatentChannels, 8, 8
	whole, err := p.decodeLatents(x, lc, h, w, 0)
	if err != nil {
		t.Fatal(err)
	}
	same, err := p.decodeLatents(x, lc, h, w, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(same, whole) {
		t.Error("a tile covering the latents changed the decode")
	}
	var scale float64
	for _, v := range whole {
		scale = max(scale, math.Abs(float64(v)))
	}
	for _, c := range []struct {
		tile       int
		maxRel, l2 float64
	}{
		// Measured: 0.415 and 0.44, 0.142 and 0.163, 0.144 and 0.133.
		{4, 0.52, 0.55},
		{6, 0.18, 0.2},
		{7, 0.18, 0.17},
	} {
		got, err := p.decodeLatents(x, lc, h, w, c.tile)
		if err != nil {
			t.Fatal(err)
		}
		var worst, num, den float64
		for i := range whole {
			d := float64(got[i] - whole[i])
			worst = max(worst, math.Abs(d))
			num += d * d
			den += float64(whole[i]) * float64(whole[i])
		}
		rel, l2 := worst/scale, math.Sqrt(num/den)
		t.Logf("tile %d latents (overlap %d) on 8x8: max |tiled - untiled| = %.3g (%.3g of the largest value), relative L2 %.3g",
			c.tile, c.tile/3, worst, rel, l2)
		if rel > c.maxRel || l2 > c.l2 {
			t.Errorf("tile %d: max error %.3g of the largest value (bound %g), relative L2 %.3g (bound %g)", c.tile, rel, c.maxRel, l2, c.l2)
		}
	}
}
