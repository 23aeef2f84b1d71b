package assets

import _ "embed"

// Judges holds Kata World's trained judges (package kata/model/world/judge):
// the pose judge over world.Actions() and the subject judge (kind, body
// colour), float16 safetensors with the vocabulary in metadata, written by
// `kata world train-judges`; judge.Load reads it.
//
//go:embed judges/judges.safetensors
var Judges []byte
