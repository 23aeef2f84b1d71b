// Package assets holds the data Kata embeds in its binary: the app icon, the
// CLIP BPE vocabulary and, once trained, the built-in model's weights.
package assets

import _ "embed"

// Icon is Kata's 512x512 PNG app icon (a figure in a handstand), also named
// by FyneApp.toml for packaging.
//
//go:embed icon.png
var Icon []byte
