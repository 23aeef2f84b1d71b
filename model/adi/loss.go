package adi

import (
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	kbackend "kata/model/backend"
	"kata/model/parallel"
	"kata/model/sd"
)

// LossBatch is one call of the loss/gradient function: B samples, each with
// its own noisy latent, noise, timestep, caption ids, placeholder slots and
// copy of the identifier vectors (so one backward pass yields one gradient
// per sample, as ADI's mask needs).
type LossBatch struct {
	Noisy     []float32 // [B, C, h, w] noisy latents x_t
	Noise     []float32 // [B, C, h, w] the noise epsilon (regression target)
	Timesteps []int32   // [B]
	IDs       []int32   // [B, T] token ids (placeholder ids may lie past the table)
	Slots     []float32 // [B, T] 1 where the placeholder's embedding is replaced
	Vectors   []float32 // [B, Lv, D] the identifier vectors each sample uses
	B, T, Lv  int       // batch, sequence length, vectors per sample (1 or layers)
	LatentDim [3]int    // C, h, w
}

// LossResult holds per-sample losses and gradients.
type LossResult struct {
	Losses []float32 // [B] mean squared noise error of each sample
	Grads  []float32 // [B, Lv, D] d loss_b / d vectors_b
}

// LossFunc computes the diffusion loss of identifier vectors and its
// gradient on a frozen SD model. It compiles one graph per input shape.
type LossFunc struct {
	backend backends.Backend
	ctx     *context.Context
	exec    *context.Exec
	mu      sync.Mutex
	// perCall > 0 splits a batch into executions of at most that many samples.
	perCall int
	// concurrent > 1 runs that many of a split batch's executions at once.
	concurrent int
	// apart runs the text encoder and the UNet in three executions
	// (textpass.go) instead of one (exec).
	apart                     bool
	encExec, unetExec, vjpExe *context.Exec
}

// NewLossFunc prepares the loss/gradient graph for the model whose weights
// and configs are in ctx (as model/sd's loader leaves them). The context is
// used with Reuse: the graph reads the weights and never writes them.
func NewLossFunc(backend backends.Backend, ctx *context.Context) (*LossFunc, error) {
	lf := &LossFunc{backend: backend, ctx: ctx.Reuse()}
	if kbackend.PureGo(backend) {
		// The CPU kernels already use every core on one sample, while the
		// activations kept for the backward pass grow with the batch: an ADI
		// step of SD 1.5 at 512 px (anchor, positive and negative) passed
		// 24 GB as one batch of 3; one sample at a time it peaks at 12.4 GB
		// (BenchmarkSD15Train on the pure-Go backend, 2026-11-26).
		lf.perCall = 1
	}
	var err error
	if lf.exec, err = context.NewExec(backend, lf.ctx, lossGraph); err != nil {
		return nil, fmt.Errorf("loss graph: %w", err)
	}
	if lf.encExec, err = context.NewExec(backend, lf.ctx, encodingsGraph); err != nil {
		return nil, fmt.Errorf("text encodings graph: %w", err)
	}
	if lf.unetExec, err = context.NewExec(backend, lf.ctx, unetLossGraph); err != nil {
		return nil, fmt.Errorf("UNet loss graph: %w", err)
	}
	if lf.vjpExe, err = context.NewExec(backend, lf.ctx, encodingsVJPGraph); err != nil {
		return nil, fmt.Errorf("text encoder gradient graph: %w", err)
	}
	return lf, nil
}

// lossGraph: inputs noisy, noise, timesteps, ids, slots, vectors; outputs
// per-sample losses [B] and gradients [B, Lv, D].
func lossGraph(ctx *context.Context, in []*Node) []*Node {
	noisy, noise, timesteps, ids, slots, vectors := in[0], in[1], in[2], in[3], in[4], in[5]
	losses := SampleLosses(ctx, noisy, noise, timesteps, ids, slots, vectors)
	grad := Gradient(ReduceAllSum(losses), vectors)[0]
	return []*Node{losses, grad}
}

// trainingEncodings are the text encodings of a training batch through
// sd.IdentifierEncodings: ids [B, T] with one identifier at slots [B, T],
// vectors [B, Lv, D]; Lv encodings [B, T, D]. Gradients flow to vectors.
func trainingEncodings(ctx *context.Context, ids, slots, vectors *Node) []*Node {
	return sd.IdentifierEncodings(ctx, ids, InsertAxes(slots, 0), InsertAxes(vectors, 0), 1)
}

// SampleLosses returns the per-sample diffusion loss [B]:
// mean over C, h, w of (unet(noisy, t, encodings) - noise)^2.
func SampleLosses(ctx *context.Context, noisy, noise, timesteps, ids, slots, vectors *Node) *Node {
	return unetLosses(ctx, noisy, noise, timesteps, trainingEncodings(ctx, ids, slots, vectors))
}

// unetLosses is SampleLosses from the text encodings (one per vector). It
// marks the graph as training (ctx.SetTraining): every caller takes the
// gradient, and the UNet's attention then recomputes its probabilities in
// the backward pass instead of keeping them (the same loss and gradient
// within float32 rounding: sd.TestRecomputedAttention, TestAttentionChunking).
func unetLosses(ctx *context.Context, noisy, noise, timesteps *Node, states []*Node) *Node {
	ctx.SetTraining(noisy.Graph(), true)
	pred := sd.UNet(ctx, noisy, timesteps, states)
	diff := Sub(pred, noise)
	return ReduceMean(Mul(diff, diff), 1, 2, 3)
}

// Compute runs the graph on one batch.
func (lf *LossFunc) Compute(b LossBatch) (LossResult, error) {
	c, h, w := b.LatentDim[0], b.LatentDim[1], b.LatentDim[2]
	n := b.B * c * h * w
	if b.B <= 0 || len(b.Noisy) != n || len(b.Noise) != n || len(b.Timesteps) != b.B ||
		len(b.IDs) != b.B*b.T || len(b.Slots) != b.B*b.T || b.Lv <= 0 || len(b.Vectors)%(b.B*b.Lv) != 0 {
		return LossResult{}, fmt.Errorf("loss batch: inconsistent sizes (B=%d T=%d Lv=%d latent %v)", b.B, b.T, b.Lv, b.LatentDim)
	}
	d := len(b.Vectors) / (b.B * b.Lv)
	if d == 0 {
		return LossResult{}, fmt.Errorf("loss batch: no identifier vectors")
	}
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.perCall <= 0 || b.B <= lf.perCall {
		return lf.run(b, d)
	}
	parts := make([]LossResult, (b.B+lf.perCall-1)/lf.perCall)
	err := parallel.ForWidth(len(parts), lf.concurrent, func(i int) error {
		lo := i * lf.perCall
		var err error
		parts[i], err = lf.run(b.samples(lo, min(lo+lf.perCall, b.B)), d)
		return err
	})
	if err != nil {
		return LossResult{}, err
	}
	var res LossResult
	for _, part := range parts {
		res.Losses = append(res.Losses, part.Losses...)
		res.Grads = append(res.Grads, part.Grads...)
	}
	return res, nil
}

// samples returns samples [lo, hi) of a validated batch.
func (b LossBatch) samples(lo, hi int) LossBatch {
	lat := b.LatentDim[0] * b.LatentDim[1] * b.LatentDim[2]
	vec := len(b.Vectors) / b.B
	return LossBatch{
		Noisy: b.Noisy[lo*lat : hi*lat], Noise: b.Noise[lo*lat : hi*lat], Timesteps: b.Timesteps[lo:hi],
		IDs: b.IDs[lo*b.T : hi*b.T], Slots: b.Slots[lo*b.T : hi*b.T], Vectors: b.Vectors[lo*vec : hi*vec],
		B: hi - lo, T: b.T, Lv: b.Lv, LatentDim: b.LatentDim,
	}
}

// run executes the graph on a validated batch with vectors of width d.
func (lf *LossFunc) run(b LossBatch, d int) (LossResult, error) {
	if lf.apart {
		return lf.runApart(b, d)
	}
	c, h, w := b.LatentDim[0], b.LatentDim[1], b.LatentDim[2]
	outs, err := execFloats(lf.exec,
		tensors.FromFlatDataAndDimensions(b.Noisy, b.B, c, h, w),
		tensors.FromFlatDataAndDimensions(b.Noise, b.B, c, h, w),
		tensors.FromFlatDataAndDimensions(b.Timesteps, b.B),
		tensors.FromFlatDataAndDimensions(b.IDs, b.B, b.T),
		tensors.FromFlatDataAndDimensions(b.Slots, b.B, b.T),
		tensors.FromFlatDataAndDimensions(b.Vectors, b.B, b.Lv, d),
	)
	if err != nil {
		return LossResult{}, fmt.Errorf("loss and gradient: %w", err)
	}
	return LossResult{Losses: outs[0], Grads: outs[1]}, nil
}

// execFloats runs exec and returns its outputs as float32 slices, freeing
// the device buffers; a panic while running (GoMLX's way of reporting shape
// errors) becomes an error.
func execFloats(exec *context.Exec, args ...any) ([][]float32, error) {
	var out [][]float32
	err := exceptionsTry(func() error {
		outs, err := exec.Exec(args...)
		if err != nil {
			return err
		}
		defer func() {
			for _, o := range outs {
				o.FinalizeAll()
			}
		}()
		for _, o := range outs {
			v, err := tensors.CopyFlatData[float32](o)
			if err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// exceptionsTry turns a panic raised while building or running a graph (GoMLX
// reports shape errors that way) into an error.
func exceptionsTry(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = e
			} else {
				err = fmt.Errorf("%v", r)
			}
		}
	}()
	return fn()
}
