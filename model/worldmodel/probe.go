package worldmodel

import (
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/adi"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/sdtrain"
	"kata/model/tokenizer"
)

// probeStream keys the probe's renders and noise, apart from training's
// and eval's streams.
const probeStream = 0x70726f6265 // "probe"

// DefaultProbeTimesteps are the noise levels `kata world probe` measures,
// from nearly clean (100) to nearly pure noise (900) on SD 1.x's schedule.
var DefaultProbeTimesteps = []int{100, 300, 500, 700, 900}

// ProbeRow is the noise-prediction loss at one timestep, averaged over the
// probe's renders: with each render's own caption and with the empty prompt.
type ProbeRow struct {
	Timestep       int
	Caption, Empty float64
}

// Gain is how much the caption lowers the loss: 1 - Caption/Empty. Zero
// means the model ignores its captions at this noise level.
func (r ProbeRow) Gain() float64 { return 1 - r.Caption/r.Empty }

// ProbeReport is what Probe measured. Renders are the n clean renders;
// Denoised[i][j] are the model's one-step predictions of the clean image
// from Renders[j] noised at Rows[i/2].Timestep, with the caption (even i)
// and with the empty prompt (odd i).
type ProbeReport struct {
	Captions []string
	Rows     []ProbeRow
	Renders  []image.Image
	Denoised [][]image.Image
}

// Probe asks whether m's UNet reads its captions, without sampling: it
// draws n fresh world renders at m's native size (seeded by seed, a stream
// of their own), encodes each with the VAE (posterior mean times the
// scaling factor), noises it at each timestep of ts (the same noise for
// every timestep and both prompts) and predicts the noise twice, with the
// render's caption and with the empty prompt. The loss is training's,
// mean((pred - noise)^2). A model whose captions matter predicts better with
// them; a gain near zero at every timestep says the text conditioning is
// what training has not learned yet, whatever the loss curve shows.
func Probe(be backends.Backend, m *sd.Model, seed uint64, n int, ts []int) (*ProbeReport, error) {
	if n < 1 || n > 64 {
		return nil, fmt.Errorf("world probe: %d renders outside 1..64", n)
	}
	sched, err := scheduler.NewSchedule(m.Scheduler)
	if err != nil {
		return nil, fmt.Errorf("world probe: %w", err)
	}
	for _, t := range ts {
		if t < 0 || t >= sched.NumTrain() {
			return nil, fmt.Errorf("world probe: timestep %d outside 0..%d", t, sched.NumTrain()-1)
		}
	}
	size, lsize := m.NativeSize(), m.UNet.SampleSize
	rng := rand.New(rand.NewPCG(seed, probeStream))
	rep := &ProbeReport{}
	var images []float32
	var captionIDs, emptyIDs []int32
	empty, err := m.Tokenizer.EncodePadded("", tokenizer.SDLength)
	if err != nil {
		return nil, fmt.Errorf("world probe: %w", err)
	}
	for range n {
		s, err := (Source{}).Draw(rng, size)
		if err != nil {
			return nil, fmt.Errorf("world probe: %w", err)
		}
		ids, err := m.Tokenizer.EncodePadded(s.Caption, tokenizer.SDLength)
		if err != nil {
			return nil, fmt.Errorf("world probe caption %q: %w", s.Caption, err)
		}
		images = append(images, adi.ImageCHW(s.Image, false)...)
		captionIDs, emptyIDs = appendIDs(captionIDs, ids), appendIDs(emptyIDs, empty)
		rep.Captions = append(rep.Captions, s.Caption)
		rep.Renders = append(rep.Renders, s.Image)
	}
	noise := sdtrain.Normals(rng, n*m.VAE.LatentChannels*lsize*lsize)
	exec, err := context.NewExec(be, m.Ctx.Reuse(), func(ctx *context.Context, in []*Node) (loss, decoded *Node) {
		return probeGraph(ctx, in[0], in[1], in[2], in[3], in[4], in[5], m.VAE.ScalingFactor)
	})
	if err != nil {
		return nil, fmt.Errorf("world probe: %w", err)
	}
	defer exec.Finalize()
	imgT := tensors.FromFlatDataAndDimensions(images, n, 3, size, size)
	noiseT := tensors.FromFlatDataAndDimensions(noise, n, m.VAE.LatentChannels, lsize, lsize)
	for _, t := range ts {
		ac := float64(sched.AlphasCumprod[t])
		row := ProbeRow{Timestep: t}
		for k, ids := range [][]int32{captionIDs, emptyIDs} {
			outs, err := exec.Exec(imgT, noiseT, tensors.FromFlatDataAndDimensions(slices.Repeat([]int32{int32(t)}, n), n),
				tensors.FromFlatDataAndDimensions(slices.Repeat([]float32{float32(math.Sqrt(ac))}, n), n),
				tensors.FromFlatDataAndDimensions(slices.Repeat([]float32{float32(math.Sqrt(1 - ac))}, n), n),
				tensors.FromFlatDataAndDimensions(ids, n, tokenizer.SDLength))
			if err != nil {
				return nil, fmt.Errorf("world probe at timestep %d: %w", t, err)
			}
			loss := float64(tensors.ToScalar[float32](outs[0]))
			if k == 0 {
				row.Caption = loss
			} else {
				row.Empty = loss
			}
			rep.Denoised = append(rep.Denoised, toImages(tensors.MustCopyFlatData[float32](outs[1]), n, size))
			for _, o := range outs {
				o.FinalizeAll()
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

// probeGraph returns the mean epsilon loss over the batch and the VAE
// decoding of the one-step clean-latent prediction (x_t - sqrtOneMinus *
// pred) / sqrtAlpha, [B, 3, H, W].
func probeGraph(ctx *context.Context, images, noise, timesteps, sqrtAlpha, sqrtOneMinus, ids *Node, scale float64) (loss, decoded *Node) {
	mean, _ := sd.VAEEncode(ctx, images)
	x0 := MulScalar(mean, scale)
	a, b := InsertAxes(sqrtAlpha, -1, -1, -1), InsertAxes(sqrtOneMinus, -1, -1, -1)
	xt := Add(Mul(x0, a), Mul(noise, b))
	pred := sd.UNet(ctx, xt, timesteps, []*Node{sd.EncodeText(ctx, ids)})
	loss = ReduceAllMean(Square(Sub(pred, noise)))
	x0pred := Div(Sub(xt, Mul(pred, b)), a)
	return loss, sd.VAEDecode(ctx, DivScalar(x0pred, scale))
}

// Format prints the report as a table, one line per timestep.
func (r *ProbeReport) Format(w io.Writer) error {
	if _, err := fmt.Fprintf(w, "%d renders; noise-prediction loss with the render's caption and with the empty prompt\n%9s %9s %9s %7s\n",
		len(r.Renders), "timestep", "caption", "empty", "gain"); err != nil {
		return err
	}
	for _, row := range r.Rows {
		if _, err := fmt.Fprintf(w, "%9d %9.5f %9.5f %6.1f%%\n", row.Timestep, row.Caption, row.Empty, 100*row.Gain()); err != nil {
			return err
		}
	}
	return nil
}

func appendIDs(dst []int32, ids []int) []int32 {
	for _, id := range ids {
		dst = append(dst, int32(id))
	}
	return dst
}

// toImages splits decoded NCHW pixels in [-1, 1] into n images.
func toImages(flat []float32, n, size int) []image.Image {
	out := make([]image.Image, n)
	per := 3 * size * size
	for i := range out {
		out[i] = sd.ToImage(flat[i*per:(i+1)*per], size, size)
	}
	return out
}
