package worldmodel

import (
	"fmt"
	"math/rand/v2"

	"kata/model/sdtrain"
	"kata/model/world"
)

// Source streams renders of the procedural world: each Draw is a fresh
// world.RandomScene, rendered at the size asked, with a world.Caption (which
// names the action only for world.CommonActions, never a benchmark action).
// It is never a fixed dataset: every draw is a new scene.
type Source struct{}

// Draw implements sdtrain.Source.
func (Source) Draw(rng *rand.Rand, size int) (sdtrain.Sample, error) {
	if size < world.MinSize {
		return sdtrain.Sample{}, fmt.Errorf("world source: size %d below the renderer's minimum %d", size, world.MinSize)
	}
	s := world.RandomScene(rng)
	return sdtrain.Sample{Image: world.Render(s, size), Caption: world.Caption(s, rng)}, nil
}
