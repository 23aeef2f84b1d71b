package sdtrain

import (
	gocontext "context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/sd"
	"kata/model/trainstate"
)

// smoothing is the weight of a new loss in Event.Smoothed.
const smoothing = 0.05

// loop trains until the stage's steps are done or ctx is cancelled.
func (r *run) loop(ctx gocontext.Context) (*Result, error) {
	o := r.o
	result := func() *Result {
		return &Result{Stage: o.Stage, Steps: r.step, Checkpoint: r.path, ScalingFactor: r.sf, Losses: r.losses}
	}
	if r.done {
		return result(), nil
	}
	if r.step > o.Steps {
		return nil, fmt.Errorf("checkpoint at step %d is past the %d steps asked", r.step, o.Steps)
	}
	if err := r.compile(); err != nil {
		return nil, err
	}
	rng := rand.New(r.pcg)
	smoothed := math.NaN()
	for _, l := range r.losses {
		smoothed = smooth(smoothed, float64(l))
	}
	start, startStep, lastSave := time.Now(), r.step, time.Now()
	for r.step < o.Steps {
		if err := ctx.Err(); err != nil {
			if serr := r.save(); serr != nil {
				return nil, fmt.Errorf("%w (and the checkpoint failed: %v)", err, serr)
			}
			return result(), err
		}
		lr := o.LearningRate(r.step)
		loss, norm, err := r.trainStep(rng, lr)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", r.step+1, err)
		}
		smoothed = smooth(smoothed, loss)
		ev := Event{Kind: EventStep, Stage: o.Stage, Step: r.step, Steps: o.Steps, Loss: loss, Smoothed: smoothed,
			LR: lr, GradNorm: norm}
		if el := time.Since(start); el > 0 {
			ev.StepsPerSec = float64(r.step-startStep) / el.Seconds()
			ev.ETA = time.Duration(float64(o.Steps-r.step) / ev.StepsPerSec * float64(time.Second))
		}
		r.onEvent(ev)
		if time.Since(lastSave) >= o.CheckpointEvery && r.step < o.Steps {
			if err := r.save(); err != nil {
				return nil, err
			}
			lastSave = time.Now()
		}
	}
	if o.Stage == StageVAE {
		r.onEvent(Event{Kind: EventMessage, Stage: o.Stage, Message: fmt.Sprintf("measuring the latent scale on %d images", o.LatentSamples)})
		std, err := r.latentStd()
		if err != nil {
			return nil, err
		}
		r.sf = 1 / std
		r.arch.VAE.ScalingFactor = r.sf
		r.onEvent(Event{Kind: EventMessage, Stage: o.Stage,
			Message: fmt.Sprintf("latent std %.4f: scaling factor %.5f", std, r.sf)})
	}
	r.done = true
	if err := r.save(); err != nil {
		return nil, err
	}
	return result(), nil
}

func smooth(s, v float64) float64 {
	if math.IsNaN(s) {
		return v
	}
	return s + smoothing*(v-s)
}

// trainStep draws a batch, computes the loss and gradients, clips them,
// applies AdamW at rate lr and updates the EMA. It returns the loss and the
// gradient's global norm before clipping.
func (r *run) trainStep(rng *rand.Rand, lr float64) (loss, norm float64, err error) {
	o, a := r.o, r.arch
	size, f := a.ImageSize(), a.Factor()
	lat := a.VAE.LatentChannels * (size / f) * (size / f)
	var tok = r.tok
	if o.Stage == StageVAE {
		tok = nil
	}
	b, err := drawBatch(r.src, rng, tok, o.Batch, size, max(o.CaptionDrop, 0))
	if err != nil {
		return 0, 0, err
	}
	ls := a.VAE.LatentChannels
	images := tensors.FromFlatDataAndDimensions(b.images, o.Batch, 3, size, size)
	post := tensors.FromFlatDataAndDimensions(Normals(rng, o.Batch*lat), o.Batch, ls, size/f, size/f)
	args := []any{images, post}
	if o.Stage == StageUNet {
		noise := tensors.FromFlatDataAndDimensions(Normals(rng, o.Batch*lat), o.Batch, ls, size/f, size/f)
		ts := make([]int32, o.Batch)
		sa, sb, w := make([]float32, o.Batch), make([]float32, o.Batch), make([]float32, o.Batch)
		for i := range ts {
			t := rng.IntN(a.Scheduler.NumTrainTimesteps)
			ac := float64(r.sched.AlphasCumprod[t])
			ts[i], sa[i], sb[i] = int32(t), float32(math.Sqrt(ac)), float32(math.Sqrt(1-ac))
			w[i] = float32(TimestepWeight(o.Weighting, ac))
		}
		args = append(args, noise, tensors.FromFlatDataAndDimensions(ts, o.Batch),
			tensors.FromFlatDataAndDimensions(sa, o.Batch), tensors.FromFlatDataAndDimensions(sb, o.Batch),
			tensors.FromFlatDataAndDimensions(b.ids, o.Batch, len(b.ids)/o.Batch))
		if o.Weighting != WeightingUniform {
			args = append(args, tensors.FromFlatDataAndDimensions(w, o.Batch))
		}
	}
	outs, err := r.exec.Exec(args...)
	if err != nil {
		return 0, 0, err
	}
	defer func() {
		for _, t := range outs {
			t.FinalizeAll()
		}
	}()
	loss = float64(tensors.ToScalar[float32](outs[0]))
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, fmt.Errorf("loss is %g", loss)
	}
	grad := make([]float32, len(r.params))
	for i, t := range outs[r.extraOutputs():] {
		tensors.MustConstFlatData(t, func(g []float32) { copy(grad[r.offs[i]:r.offs[i+1]], g) })
	}
	var sq float64
	for _, g := range grad {
		sq += float64(g) * float64(g)
	}
	norm = math.Sqrt(sq)
	if o.ClipNorm > 0 && norm > o.ClipNorm {
		s := float32(o.ClipNorm / norm)
		for i := range grad {
			grad[i] *= s
		}
	}
	r.adam.Config.LR = lr
	if err := r.adam.Update(r.params, grad); err != nil {
		return 0, 0, err
	}
	d := float32(emaDecay(o.EMADecay, r.adam.Step))
	for i, p := range r.params {
		r.ema[i] += (1 - d) * (p - r.ema[i])
	}
	for i, k := range r.train {
		if err := r.setWeight(k, r.params[r.offs[i]:r.offs[i+1]]); err != nil {
			return 0, 0, err
		}
	}
	r.step++
	r.losses = append(r.losses, float32(loss))
	return loss, norm, nil
}

// save writes the stage's checkpoint and loss curve.
func (r *run) save() error {
	state, err := r.pcg.MarshalBinary()
	if err != nil {
		return err
	}
	c := &checkpoint{State: trainstate.State{Step: r.step, AdamStep: r.adam.Step, RNG: state, Fingerprint: r.fp},
		Stage: r.o.Stage, Done: r.done, ScalingFactor: r.sf, Arch: r.arch, Weights: map[string][]float32{}, Shapes: r.shapes,
		M: map[string][]float32{}, V: map[string][]float32{}, EMA: map[string][]float32{}, Losses: r.losses}
	for _, k := range r.keys {
		c.Weights[k] = tensors.MustCopyFlatData[float32](r.vars[k].MustValue())
	}
	for i, k := range r.train {
		lo, hi := r.offs[i], r.offs[i+1]
		c.M[k], c.V[k], c.EMA[k] = r.adam.M[lo:hi], r.adam.V[lo:hi], r.ema[lo:hi]
	}
	if err := saveCheckpoint(r.path, c); err != nil {
		return err
	}
	if err := WriteLossCurve(LossCurvePath(r.o.CheckpointDir, r.o.Stage), fmt.Sprintf("%s stage loss", r.o.Stage), r.losses); err != nil {
		return err
	}
	if !r.o.NoPreview && (r.done || r.lastPreview.IsZero() || time.Since(r.lastPreview) >= r.o.PreviewEvery) {
		if err := r.writePreview(); err != nil {
			return err
		}
		r.lastPreview = time.Now()
	}
	r.onEvent(Event{Kind: EventCheckpoint, Stage: r.o.Stage, Step: r.step, Steps: r.o.Steps, Path: r.path})
	return nil
}

// latentStd encodes LatentSamples images (drawn from their own stream of the
// run's seed, so measuring draws nothing from the training stream) with the
// EMA weights and returns the standard deviation of the sampled latents.
func (r *run) latentStd() (float64, error) {
	// The EMA weights are what the vae stage exports.
	if err := r.useWeights(r.ema); err != nil {
		return 0, err
	}
	defer func() { _ = r.useWeights(r.params) }()
	exec, err := context.NewExec(r.be, r.model.Ctx.Reuse(), func(ctx *context.Context, images, noise *Node) *Node {
		mean, logvar := sd.VAEEncode(ctx, images)
		return Add(mean, Mul(Exp(MulScalar(logvar, 0.5)), noise))
	})
	if err != nil {
		return 0, err
	}
	defer exec.Finalize()
	rng := rand.New(rand.NewPCG(r.o.Seed, 0x6c6174656e74))
	size, f := r.arch.ImageSize(), r.arch.Factor()
	lc := r.arch.VAE.LatentChannels
	var sum, sq float64
	var n int
	for done := 0; done < r.o.LatentSamples; done += r.o.Batch {
		bs := min(r.o.Batch, r.o.LatentSamples-done)
		b, err := drawBatch(r.src, rng, nil, bs, size, 0)
		if err != nil {
			return 0, err
		}
		noise := Normals(rng, bs*lc*(size/f)*(size/f))
		out, err := exec.Exec1(tensors.FromFlatDataAndDimensions(b.images, bs, 3, size, size),
			tensors.FromFlatDataAndDimensions(noise, bs, lc, size/f, size/f))
		if err != nil {
			return 0, err
		}
		for _, v := range tensors.MustCopyFlatData[float32](out) {
			sum += float64(v)
			sq += float64(v) * float64(v)
			n++
		}
		out.FinalizeAll()
	}
	mean := sum / float64(n)
	std := math.Sqrt(max(sq/float64(n)-mean*mean, 0))
	if !(std > 0) || math.IsInf(std, 0) {
		return 0, fmt.Errorf("latent standard deviation is %g", std)
	}
	return std, nil
}
