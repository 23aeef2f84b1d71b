package sdtrain

import (
	gocontext "context"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"path/filepath"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/sd"
	"kata/store/atomicfile"
)

// PreviewPath is where a stage's preview PNG lives in a checkpoint folder.
func PreviewPath(dir string, stage Stage) string {
	return filepath.Join(dir, string(stage)+"-preview.png")
}

// Preview sizes: the vae stage shows previewCols renders over their
// reconstructions; the unet stage previewCols seeds per prompt.
const (
	previewCols  = 8
	previewSteps = 20
)

// writePreview draws what the EMA weights do now (see Options.PreviewPrompts)
// and writes it atomically to PreviewPath. The weights are put back after,
// and nothing is drawn from the training RNG, so previews do not change the
// run.
func (r *run) writePreview() error {
	if r.o.Stage == StageUNet && len(r.o.PreviewPrompts) == 0 {
		return nil
	}
	if err := r.useWeights(r.ema); err != nil {
		return err
	}
	defer func() { _ = r.useWeights(r.params) }()
	var tiles []*image.NRGBA
	var err error
	if r.o.Stage == StageVAE {
		tiles, err = r.reconstructions()
	} else {
		tiles, err = r.samples()
	}
	if err != nil {
		return fmt.Errorf("preview: %w", err)
	}
	size := r.arch.ImageSize()
	rows := (len(tiles) + previewCols - 1) / previewCols
	sheet := image.NewNRGBA(image.Rect(0, 0, previewCols*size, rows*size))
	for i, tile := range tiles {
		x, y := (i%previewCols)*size, (i/previewCols)*size
		draw.Draw(sheet, image.Rect(x, y, x+size, y+size), tile, image.Point{}, draw.Src)
	}
	return atomicfile.Write(PreviewPath(r.o.CheckpointDir, r.o.Stage), func(w io.Writer) error { return png.Encode(w, sheet) })
}

// useWeights sets the trained variables to flat (r.params or r.ema).
func (r *run) useWeights(flat []float32) error {
	for i, k := range r.train {
		if err := r.setWeight(k, flat[r.offs[i]:r.offs[i+1]]); err != nil {
			return err
		}
	}
	return nil
}

// reconstructions returns previewCols renders (the same ones every time:
// their own stream of the run's seed) followed by their decoded posterior means.
func (r *run) reconstructions() ([]*image.NRGBA, error) {
	size := r.arch.ImageSize()
	if r.recon == nil {
		exec, err := context.NewExec(r.be, r.model.Ctx.Reuse(), func(ctx *context.Context, images *Node) *Node {
			mean, _ := sd.VAEEncode(ctx, images)
			return sd.VAEDecode(ctx, mean)
		})
		if err != nil {
			return nil, err
		}
		r.recon = exec
	}
	rng := rand.New(rand.NewPCG(r.o.Seed, 0x70726576))
	b, err := drawBatch(r.src, rng, nil, previewCols, size, 0)
	if err != nil {
		return nil, err
	}
	out, err := r.recon.Exec1(tensors.FromFlatDataAndDimensions(b.images, previewCols, 3, size, size))
	if err != nil {
		return nil, err
	}
	defer out.FinalizeAll()
	dec := tensors.MustCopyFlatData[float32](out)
	n := 3 * size * size
	var tiles []*image.NRGBA
	for _, src := range [][]float32{b.images, dec} {
		for i := range previewCols {
			tiles = append(tiles, sd.ToImage(src[i*n:(i+1)*n], size, size))
		}
	}
	return tiles, nil
}

// samples draws every preview prompt with seeds 1..previewCols (DDIM, 20
// steps, guidance 7.5) through model/sd's pipeline.
func (r *run) samples() ([]*image.NRGBA, error) {
	if r.pipe == nil {
		r.model.Scheduler = r.arch.Scheduler
		var err error
		if r.pipe, err = sd.NewPipeline(r.be, r.model); err != nil {
			return nil, err
		}
	}
	var tiles []*image.NRGBA
	for _, prompt := range r.o.PreviewPrompts {
		for seed := range previewCols {
			res, err := r.pipe.Generate(gocontext.Background(), sd.GenerateOptions{Prompt: prompt, Steps: previewSteps,
				CFG: 7.5, Seed: uint64(seed + 1)})
			if err != nil {
				return nil, err
			}
			tiles = append(tiles, res.Image)
		}
	}
	return tiles, nil
}
