package world_test

import (
	"fmt"
	"math/rand/v2"

	"kata/model/world"
)

// A training sample: a random scene, its render and its caption. The same
// seeds give the same scene, pixels and words everywhere.
func Example() {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 3 {
		s := world.RandomScene(rng)
		img := world.Render(s, 64)
		fmt.Printf("%s %s %v: %s\n", s.Kind, s.Action, img.Bounds().Size(), world.Caption(s, rng))
	}
	// Output:
	// person pray (64,64): an orange person wearing a white shirt on a light pink backdrop with a floor
	// cat handstand (64,64): a green cat, striped light green wallpaper
	// cat jump (64,64): an illustration of a red cat jumping against a light yellow checkerboard background
}
