package sdtrain

import (
	gocontext "context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/parallel"
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
	err := r.compile()
	if err != nil {
		return nil, err
	}
	if r.rng, err = r.pcg.MarshalBinary(); err != nil {
		return nil, err
	}
	next, stop := r.inputs(rand.New(r.pcg), o.Steps-r.step)
	defer stop()
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
		in, err := next()
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", r.step+1, err)
		}
		loss, norm, err := r.trainStep(in, lr)
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
	stop()
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

// stepInput is one step's graph inputs, one list per shard (Options.Shards),
// and the training RNG's state after drawing them: the state a checkpoint
// written after that step holds.
type stepInput struct {
	args [][]any
	rng  []byte
}

// shardTensors cuts v, the flat values of batch samples of dims each
// (sample-major), into k tensors [batch/k, dims...] of consecutive samples.
func shardTensors[T dtypes.Supported](v []T, batch, k int, dims ...int) []*tensors.Tensor {
	per := len(v) / k
	out := make([]*tensors.Tensor, k)
	for i := range out {
		out[i] = tensors.FromFlatDataAndDimensions(v[i*per:(i+1)*per], append([]int{batch / k}, dims...)...)
	}
	return out
}

// draw draws one step's inputs from rng (r.pcg): the batch (renders,
// caption dropout, token ids), the posterior noise and, for the unet stage,
// the diffusion noise and timesteps, in that order.
func (r *run) draw(rng *rand.Rand) (stepInput, error) {
	o, a := r.o, r.arch
	size, f := a.ImageSize(), a.Factor()
	lat := a.VAE.LatentChannels * (size / f) * (size / f)
	var tok = r.tok
	if o.Stage == StageVAE {
		tok = nil
	}
	b, err := drawBatch(r.src, rng, tok, o.Batch, size, max(o.CaptionDrop, 0))
	if err != nil {
		return stepInput{}, err
	}
	ls, n, k := a.VAE.LatentChannels, o.Batch, o.Shards
	args := make([][]any, k)
	add := func(ts []*tensors.Tensor) {
		for i, t := range ts {
			args[i] = append(args[i], t)
		}
	}
	add(shardTensors(b.images, n, k, 3, size, size))
	add(shardTensors(Normals(rng, n*lat), n, k, ls, size/f, size/f))
	if o.Stage == StageUNet {
		noise := Normals(rng, n*lat)
		ts := make([]int32, n)
		sa, sb, w := make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range ts {
			t := rng.IntN(a.Scheduler.NumTrainTimesteps)
			ac := float64(r.sched.AlphasCumprod[t])
			ts[i], sa[i], sb[i] = int32(t), float32(math.Sqrt(ac)), float32(math.Sqrt(1-ac))
			w[i] = float32(TimestepWeight(o.Weighting, ac))
		}
		add(shardTensors(noise, n, k, ls, size/f, size/f))
		add(shardTensors(ts, n, k))
		add(shardTensors(sa, n, k))
		add(shardTensors(sb, n, k))
		add(shardTensors(b.ids, n, k, len(b.ids)/n))
		if o.Weighting != WeightingUniform {
			add(shardTensors(w, n, k))
		}
	}
	state, err := r.pcg.MarshalBinary()
	if err != nil {
		return stepInput{}, err
	}
	return stepInput{args: args, rng: state}, nil
}

// inputs yields the inputs of the next n steps in order from rng. Serial
// draws each on the calling goroutine when next is called; otherwise one
// goroutine draws them from the same rng in the same order, a step ahead,
// so that rendering and tokenising the next batch overlap the current
// step. stop ends that goroutine and waits for it; next must not be called
// after stop.
func (r *run) inputs(rng *rand.Rand, n int) (next func() (stepInput, error), stop func()) {
	if r.o.Serial {
		return func() (stepInput, error) { return r.draw(rng) }, func() {}
	}
	type drawn struct {
		in  stepInput
		err error
	}
	ch, done := make(chan drawn), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		for range n {
			in, err := r.draw(rng)
			select {
			case ch <- drawn{in, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	next = func() (stepInput, error) {
		d, ok := <-ch
		if !ok {
			return stepInput{}, fmt.Errorf("no inputs left to draw")
		}
		return d.in, d.err
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
	return next, stop
}

// trainStep runs one step on in: the loss and gradients, then the host
// update (clipping, AdamW at rate lr, the EMA). It returns the loss and the
// gradient's global norm before clipping.
func (r *run) trainStep(in stepInput, lr float64) (loss, norm float64, err error) {
	o := r.o
	outs, err := r.execShards(in.args)
	defer func() {
		for _, shard := range outs {
			for _, t := range shard {
				t.FinalizeAll()
			}
		}
	}()
	if err != nil {
		return 0, 0, err
	}
	for _, shard := range outs {
		loss += float64(tensors.ToScalar[float32](shard[0]))
	}
	loss /= float64(len(outs))
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, fmt.Errorf("loss is %g", loss)
	}
	if r.grad == nil {
		r.grad = make([]float32, len(r.params))
	}
	grad, first := r.grad, r.extraOutputs()
	forBlocks(len(r.train), 1, o.Serial, func(i, _ int) {
		g := grad[r.offs[i]:r.offs[i+1]]
		tensors.MustConstFlatData(outs[0][first+i], func(s []float32) { copy(g, s) })
		if len(outs) == 1 {
			return
		}
		for _, shard := range outs[1:] {
			tensors.MustConstFlatData(shard[first+i], func(s []float32) {
				for j, v := range s {
					g[j] += v
				}
			})
		}
		inv := 1 / float32(len(outs))
		for j := range g {
			g[j] *= inv
		}
	})
	var sq float64
	for _, g := range grad {
		sq += float64(g) * float64(g)
	}
	norm = math.Sqrt(sq)
	clip := o.ClipNorm > 0 && norm > o.ClipNorm
	s := float32(o.ClipNorm / norm)
	r.adam.Config.LR = lr
	if len(r.params) != len(r.adam.M) {
		return 0, 0, fmt.Errorf("adamw: %d params for an optimiser of %d", len(r.params), len(r.adam.M))
	}
	step := r.adam.Begin()
	d := float32(emaDecay(o.EMADecay, r.adam.Step))
	params, ema := r.params, r.ema
	forBlocks(len(params), hostBlock, o.Serial, func(lo, hi int) {
		if clip {
			for i := lo; i < hi; i++ {
				grad[i] *= s
			}
		}
		step.Apply(params, grad, lo, hi)
		for i := lo; i < hi; i++ {
			ema[i] += (1 - d) * (params[i] - ema[i])
		}
	})
	if err := r.setTrained(); err != nil {
		return 0, 0, err
	}
	r.step++
	r.rng = in.rng
	r.losses = append(r.losses, float32(loss))
	return loss, norm, nil
}

// execShards runs the training graph on each shard's inputs, all at once,
// and returns each one's outputs and the first error.
func (r *run) execShards(args [][]any) ([][]*tensors.Tensor, error) {
	outs := make([][]*tensors.Tensor, len(args))
	err := parallel.ForWidth(len(args), len(args), func(i int) error {
		var err error
		outs[i], err = r.exec.Exec(args[i]...)
		return err
	})
	return outs, err
}

// setTrained sets the trained variables to r.params, making their tensors
// on all cores (unless Serial).
func (r *run) setTrained() error {
	vals := make([]*tensors.Tensor, len(r.train))
	forBlocks(len(r.train), 1, r.o.Serial, func(i, _ int) {
		vals[i] = tensors.FromFlatDataAndDimensions(r.params[r.offs[i]:r.offs[i+1]], r.shapes[r.train[i]]...)
	})
	for i, k := range r.train {
		if err := r.vars[k].SetValue(vals[i]); err != nil {
			return fmt.Errorf("weight %s: %w", k, err)
		}
	}
	return nil
}

// save writes the stage's checkpoint and loss curve.
func (r *run) save() error {
	c := &checkpoint{State: trainstate.State{Step: r.step, AdamStep: r.adam.Step, RNG: r.rng, Fingerprint: r.fp},
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
