package assets

import "embed"

// Samples holds three exemplar sets of Kata World for first-run onboarding,
// each in ActionBench's folder layout: samples/ACTION/01.png .. 10.png
// (SampleSize x SampleSize renders of people), 01.txt .. 10.txt (the full
// caption, action in words) and text.json (file name -> list of one caption
// template with "{}" where the action goes). They are exactly what
//
//	kata world render --action ACTION --seed SampleSeed --size SampleSize
//
// writes; `CGO_ENABLED=0 go run assets/gen_samples.go` regenerates them and
// model/world's tests check that they still match the renderer.
//
//go:embed samples
var Samples embed.FS

// SampleActions are the actions of the sets in Samples, one folder each.
var SampleActions = []string{"handstand", "meditate", "salute"}

// SampleSeed and SampleSize are the `kata world render` settings of Samples.
const (
	SampleSeed = 1
	SampleSize = 128
)
