package sd

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Tiled VAE decoding. The decoder's working memory grows with the image (six
// or so float32 maps of 128 channels at full size: 0.8 GB at 512x512, 3.2 GB
// at 1024x1024); decoding overlapping tiles of the latents one at a time
// bounds it by the tile's size. The decoder is not local (group norms take
// statistics over the whole map, the mid block attends over all pixels), so
// tiles differ from the untiled decode, most at their borders; overlapping
// tiles blended with linear ramps across each overlap hide the seams, as
// diffusers' and AUTOMATIC1111's tiled VAEs do.

// Default tiling when memory is short: 48x48 latents (384 px) per tile,
// overlapping by 16 latents (128 px).
const (
	DefaultDecodeTile    = 48
	DefaultDecodeOverlap = 16
)

// tileStarts returns the starts of tiles of size tile covering n with at
// least overlap shared between neighbours; every tile is whole (the last one
// is moved back to end at n), so one compiled graph decodes them all.
func tileStarts(n, tile, overlap int) []int {
	if n <= tile {
		return []int{0}
	}
	step := max(1, tile-overlap)
	var starts []int
	for s := 0; ; s += step {
		if s+tile >= n {
			return append(starts, n-tile)
		}
		starts = append(starts, s)
	}
}

// tileRamp is the blending weight of the pixel at p of a tile of size size
// starting at start along an axis of size n: 1 inside, falling linearly to
// nearly 0 over ramp pixels at a side that borders another tile.
func tileRamp(p, start, size, n, ramp int) float32 {
	w := float32(1)
	if start > 0 && p < ramp {
		w = min(w, (float32(p)+0.5)/float32(ramp))
	}
	if start+size < n && size-1-p < ramp {
		w = min(w, (float32(size-1-p)+0.5)/float32(ramp))
	}
	return w
}

// decodeTiled decodes latents x [1, lc, h, w] (flat) in tiles of tile x tile
// latents overlapping by overlap, and returns the blended [1, C, H, W] image
// with its channel count. decode runs the pipeline's decoder on one tile.
func decodeTiled(x []float32, lc, h, w, tile, overlap, factor int,
	decode func(*tensors.Tensor) (*tensors.Tensor, error)) ([]float32, int, error) {
	if tile < 1 || overlap < 0 || overlap >= tile {
		return nil, 0, fmt.Errorf("decode tile %d with overlap %d: want tile >= 1 and 0 <= overlap < tile", tile, overlap)
	}
	th, tw := min(tile, h), min(tile, w)
	ys, xs := tileStarts(h, th, overlap), tileStarts(w, tw, overlap)
	H, W, TH, TW := h*factor, w*factor, th*factor, tw*factor
	ramp := max(1, overlap*factor)
	var out, weight []float32
	channels := 0
	for _, y0 := range ys {
		for _, x0 := range xs {
			part := make([]float32, lc*th*tw) // the tensor may keep it
			for c := range lc {
				for y := range th {
					src := (c*h+y0+y)*w + x0
					copy(part[(c*th+y)*tw:(c*th+y+1)*tw], x[src:src+tw])
				}
			}
			dec, err := decode(tensors.FromFlatDataAndDimensions(part, 1, lc, th, tw))
			if err != nil {
				return nil, 0, err
			}
			d := dec.Shape().Dimensions
			if len(d) != 4 || d[2] != TH || d[3] != TW {
				return nil, 0, fmt.Errorf("decoded tile shaped %v, want [1, C, %d, %d]", d, TH, TW)
			}
			img, err := tensors.CopyFlatData[float32](dec)
			dec.FinalizeAll()
			if err != nil {
				return nil, 0, err
			}
			if out == nil {
				channels = d[1]
				out, weight = make([]float32, channels*H*W), make([]float32, H*W)
			}
			Y0, X0 := y0*factor, x0*factor
			for y := range TH {
				wy := tileRamp(y, Y0, TH, H, ramp)
				for xx := range TW {
					wgt := wy * tileRamp(xx, X0, TW, W, ramp)
					o := (Y0+y)*W + X0 + xx
					weight[o] += wgt
					for c := range channels {
						out[c*H*W+o] += wgt * img[(c*TH+y)*TW+xx]
					}
				}
			}
		}
	}
	for c := range channels {
		plane := out[c*H*W : (c+1)*H*W]
		for i := range plane {
			plane[i] /= weight[i]
		}
	}
	return out, channels, nil
}
