// Package assets holds the data Kata embeds in its binary: the app icon, the
// favourite stars, the CLIP BPE vocabulary, the world's judges, the sample
// action sets and the built-in model's weights.
package assets

import _ "embed"

// Icon is Kata's 512x512 PNG app icon (a figure in a handstand), also named
// by FyneApp.toml for packaging.
//
//go:embed icon.png
var Icon []byte

// Star and StarFilled are the gallery's favourite marks (24x24 SVG, drawn
// in black for Fyne's themed resources to recolour): an image that is not
// a favourite, and one that is.
var (
	//go:embed star.svg
	Star []byte
	//go:embed star-filled.svg
	StarFilled []byte
)
