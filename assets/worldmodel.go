package assets

import (
	"embed"
	"io/fs"
)

//go:embed all:worldmodel
var worldModel embed.FS

// WorldModel returns Kata World, the built-in model: a diffusers folder
// (model_index.json; text_encoder/, unet/ and vae/ with config.json and f16
// diffusion_pytorch_model.safetensors or model.safetensors; scheduler/ and
// tokenizer/) at the folder's root, 64x64 images, trained by `kata world
// train` on renders of model/world (docs/WORLD-MODEL.md has the recipe and
// its measured quality).
func WorldModel() fs.FS {
	sub, err := fs.Sub(worldModel, "worldmodel")
	if err != nil { // only for an invalid name, and "worldmodel" is valid
		panic(err)
	}
	return sub
}
