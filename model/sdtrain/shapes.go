package sdtrain

import (
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
)

// Shapes is a small synthetic Source for tests and smoke runs: one filled
// disc or square of a named colour on a grey background, captioned
// "a red square" and the like. It is a stand-in with the Source contract,
// not training data for a real model.
type Shapes struct{}

var shapeColors = []struct {
	name string
	c    color.NRGBA
}{
	{"red", color.NRGBA{220, 40, 40, 255}}, {"green", color.NRGBA{40, 180, 60, 255}},
	{"blue", color.NRGBA{40, 70, 220, 255}}, {"yellow", color.NRGBA{230, 210, 40, 255}},
}

// Draw implements Source: a random colour, shape, position and size.
func (Shapes) Draw(rng *rand.Rand, size int) (Sample, error) {
	if size < 8 {
		return Sample{}, fmt.Errorf("shapes: size %d below 8", size)
	}
	col := shapeColors[rng.IntN(len(shapeColors))]
	square := rng.IntN(2) == 0
	r := size/8 + rng.IntN(size/4)
	cx, cy := r+rng.IntN(size-2*r), r+rng.IntN(size-2*r)
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			dx, dy := x-cx, y-cy
			in := dx*dx+dy*dy <= r*r
			if square {
				in = dx >= -r && dx < r && dy >= -r && dy < r
			}
			c := color.NRGBA{128, 128, 128, 255}
			if in {
				c = col.c
			}
			img.SetNRGBA(x, y, c)
		}
	}
	shape := "disc"
	if square {
		shape = "square"
	}
	return Sample{Image: img, Caption: "a " + col.name + " " + shape}, nil
}
