package judge

import (
	"fmt"
	"image"

	"github.com/disintegration/imaging"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Fit returns img as a Size x Size NRGBA image: a square of Size is copied,
// anything else is centre-cropped to a square and resized (Lanczos).
func Fit(img image.Image) *image.NRGBA {
	b := img.Bounds()
	if b.Dx() == Size && b.Dy() == Size {
		return imaging.Clone(img)
	}
	return imaging.Fill(img, Size, Size, imaging.Center, imaging.Lanczos)
}

// pixels writes img (Size x Size, origin 0,0) into dst [Size*Size*3] as
// row-major RGB in [0, 1], alpha ignored.
func pixels(dst []float32, img *image.NRGBA) {
	for y := range Size {
		row := img.Pix[y*img.Stride:]
		for x := range Size {
			p, i := row[4*x:], 3*(y*Size+x)
			dst[i], dst[i+1], dst[i+2] = float32(p[0])/255, float32(p[1])/255, float32(p[2])/255
		}
	}
}

// Tensor packs images into a float32 tensor [len(images), Size, Size, 3]
// (values in [0, 1]), fitting each to Size first (see Fit).
func Tensor(images []image.Image) (*tensors.Tensor, error) {
	if len(images) == 0 {
		return nil, fmt.Errorf("judge: no images")
	}
	const n = Size * Size * 3
	data := make([]float32, len(images)*n)
	for i, img := range images {
		if img == nil || img.Bounds().Empty() {
			return nil, fmt.Errorf("judge: image %d is empty", i)
		}
		pixels(data[i*n:(i+1)*n], Fit(img))
	}
	return tensors.FromFlatDataAndDimensions(data, len(images), Size, Size, 3), nil
}
