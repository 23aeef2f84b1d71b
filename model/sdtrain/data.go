package sdtrain

import (
	"fmt"
	"image"
	"math/rand/v2"

	"kata/model/adi"
	"kata/model/tokenizer"
)

// Sample is one training example: an image of the training size and its caption.
type Sample struct {
	Image   *image.NRGBA
	Caption string
}

// Source draws training samples. Draw must depend on rng alone (and on the
// size asked), so that a seeded run sees the same stream every time and a
// resumed run continues it: the trainer checkpoints rng's state, not the
// source's. The trainer draws the next batch on its own goroutine while a
// step runs, so Draw may be called from two goroutines at once (each with
// its own rng, as for previews and the latent scale).
type Source interface {
	// Draw returns one sample of size x size pixels.
	Draw(rng *rand.Rand, size int) (Sample, error)
}

// batch is one step's data on the host, NCHW images in [-1, 1].
type batch struct {
	images []float32 // [B, 3, size, size]
	ids    []int32   // [B, SDLength] caption token ids (empty caption when dropped)
}

// drawBatch draws b samples of size x size from src; with probability drop a
// caption is replaced by the empty prompt (classifier-free guidance's
// unconditional input). The dropout coin is drawn from rng after each
// sample, so the stream does not depend on whether captions are used.
func drawBatch(src Source, rng *rand.Rand, tok *tokenizer.Tokenizer, b, size int, drop float64) (*batch, error) {
	out := &batch{images: make([]float32, 0, b*3*size*size), ids: make([]int32, 0, b*tokenizer.SDLength)}
	for i := range b {
		s, err := src.Draw(rng, size)
		if err != nil {
			return nil, fmt.Errorf("sample %d: %w", i, err)
		}
		if r := s.Image.Bounds(); r.Dx() != size || r.Dy() != size {
			return nil, fmt.Errorf("sample %d: source drew %dx%d, want %dx%d", i, r.Dx(), r.Dy(), size, size)
		}
		out.images = append(out.images, adi.ImageCHW(s.Image, false)...)
		caption := s.Caption
		if rng.Float64() < drop {
			caption = ""
		}
		if tok == nil {
			continue
		}
		ids, err := tok.EncodePadded(caption, tokenizer.SDLength)
		if err != nil {
			return nil, fmt.Errorf("sample %d caption: %w", i, err)
		}
		for _, id := range ids {
			out.ids = append(out.ids, int32(id))
		}
	}
	return out, nil
}

// Normals returns n standard normal values drawn from rng (float32).
func Normals(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}
