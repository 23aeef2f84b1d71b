package sdtrain

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/sd"
)

// VAELoss is the autoencoder's training loss on images [B, 3, H, W] in
// [-1, 1] with posterior noise [B, latent_channels, H/f, W/f] (f the VAE's
// downsampling factor): the latent is mean + exp(logvar/2) * noise, the
// reconstruction its decoding. It returns the total loss (a scalar), the
// reconstruction term mean|d| + mean(d^2) over pixels, and the KL term
// klWeight * KL(posterior || N(0, 1)) summed over a sample's latent and
// divided by its pixel count (LDM's weighting, whose default weight is
// 1e-6), averaged over the batch.
func VAELoss(ctx *context.Context, images, noise *Node, klWeight float64) (loss, rec, kl *Node) {
	mean, logvar := sd.VAEEncode(ctx, images)
	z := Add(mean, Mul(Exp(MulScalar(logvar, 0.5)), noise))
	out := sd.VAEDecode(ctx, z)
	d := Sub(out, images)
	rec = Add(ReduceAllMean(Abs(d)), ReduceAllMean(Square(d)))
	dims := images.Shape().Dimensions
	pixels := float64(dims[1] * dims[2] * dims[3])
	klElems := MulScalar(Sub(Add(Square(mean), Exp(logvar)), OnePlus(logvar)), 0.5)
	kl = MulScalar(ReduceAllSum(klElems), klWeight/(pixels*float64(dims[0])))
	return Add(rec, kl), rec, kl
}

// UNetLoss is the epsilon-prediction loss of the text encoder and UNet with
// the VAE frozen: images [B, 3, H, W] in [-1, 1] are encoded (no gradient
// into the VAE), sampled with postNoise and multiplied by scale (SD's
// scaling factor), noised to x_t = sqrtAlpha * x0 + sqrtOneMinus * noise
// (sqrtAlpha and sqrtOneMinus [B], the schedule's values at timesteps [B]),
// and the UNet, conditioned on the encoded captions ids [B, L], predicts
// noise. It returns mean((pred - noise)^2), a scalar; with weights [B]
// (nil: all 1, the graph SD's plain loss builds) each sample's mean squared
// error is scaled by its weight before the batch mean.
func UNetLoss(ctx *context.Context, images, postNoise, noise, timesteps, sqrtAlpha, sqrtOneMinus, ids, weights *Node, scale float64) *Node {
	mean, logvar := sd.VAEEncode(ctx, images)
	x0 := StopGradient(MulScalar(Add(mean, Mul(Exp(MulScalar(logvar, 0.5)), postNoise)), scale))
	xt := Add(Mul(x0, InsertAxes(sqrtAlpha, -1, -1, -1)), Mul(noise, InsertAxes(sqrtOneMinus, -1, -1, -1)))
	states := sd.EncodeText(ctx, ids)
	pred := sd.UNet(ctx, xt, timesteps, []*Node{states})
	if weights == nil {
		return ReduceAllMean(Square(Sub(pred, noise)))
	}
	return ReduceAllMean(Mul(ReduceMean(Square(Sub(pred, noise)), 1, 2, 3), weights))
}

// gradExec compiles lossFn (whose first output is the scalar loss) together
// with the gradient of that loss with respect to vars. Exec returns lossFn's
// outputs followed by one gradient per variable, shaped like it.
func gradExec(be backends.Backend, ctx *context.Context, vars []*context.Variable, lossFn func(ctx *context.Context, in []*Node) []*Node) (*context.Exec, error) {
	exec, err := context.NewExec(be, ctx.Reuse(), func(ctx *context.Context, in []*Node) []*Node {
		outs := lossFn(ctx, in)
		g := outs[0].Graph()
		nodes := make([]*Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.ValueGraph(g)
		}
		return append(outs, Gradient(outs[0], nodes...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("training graph: %w", err)
	}
	return exec, nil
}
