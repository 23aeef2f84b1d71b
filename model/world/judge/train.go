package judge

import (
	stdcontext "context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/losses"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers/cosineschedule"
)

// Source draws labelled training or test images. Draw must be a pure
// function of rng's state, so that a seed fixes a data set.
type Source interface {
	Vocabulary() Vocabulary
	Draw(rng *rand.Rand) (image.Image, Label)
}

// TrainOptions configures Train. Zero fields take the defaults named.
type TrainOptions struct {
	Steps     int           // optimiser steps; default 4000
	Batch     int           // images per step; default 48
	LR        float64       // Adam's peak learning rate; default 2e-3, cosine decay to LR/50
	Seed      uint64        // weights and data; default 1 (batch s is drawn from PCG(Seed, s+1))
	Widths    []int         // convolution widths; default DefaultWidths
	Stem      int           // subject judge's stem width; default DefaultStem, negative none
	Augment   *Augmentation // nil: DefaultAugmentation(); a zero value turns augmentation off
	Dir       string        // checkpoint folder (required); holds CheckpointFile
	SaveEvery int           // steps between checkpoints; default 250
	Resume    bool          // continue from Dir's checkpoint (its settings must match)
	// InitFrom is a weight file (Save) whose judges start the run instead of
	// random weights; its vocabulary, widths and stem must be the run's.
	InitFrom   string
	OnProgress func(Progress)
}

// CheckpointFile is the name of the training checkpoint inside TrainOptions.Dir.
const CheckpointFile = "judges-checkpoint.safetensors"

// Progress reports one finished optimiser step.
type Progress struct {
	Step, Steps int
	Loss        float64       // moving average of the summed cross-entropy of the three heads
	Elapsed     time.Duration // wall time of this run (not counting earlier runs)
	Resumed     int           // step this run started from (0 when fresh)
}

func (o TrainOptions) withDefaults() TrainOptions {
	if o.Steps == 0 {
		o.Steps = 4000
	}
	if o.Batch == 0 {
		o.Batch = 48
	}
	if o.LR == 0 {
		o.LR = 2e-3
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if len(o.Widths) == 0 {
		o.Widths = DefaultWidths
	}
	if o.Augment == nil {
		a := DefaultAugmentation()
		o.Augment = &a
	}
	if o.SaveEvery == 0 {
		o.SaveEvery = 250
	}
	return o
}

// fingerprint lists the settings a resumed run must share with the run
// that wrote the checkpoint.
func (o TrainOptions) fingerprint(v Vocabulary, initDigest string) string {
	return fmt.Sprintf("init=%s steps=%d batch=%d lr=%g seed=%d widths=%v stem=%d augment=%+v kinds=%v colors=%v actions=%v",
		initDigest, o.Steps, o.Batch, o.LR, o.Seed, o.Widths, stemOrDefault(o.Stem), *o.Augment, v.Kinds, v.Colors, v.Actions)
}

// newRand returns the PCG generator for (seed, stream): stream 0 draws the
// initial weights, stream s+1 the batch of step s.
func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// batch is one step's inputs: images [B, Size, Size, 3] and int32 labels [B, 1].
type batch struct {
	images              *tensors.Tensor
	kind, color, action *tensors.Tensor
}

// drawBatch draws n augmented images from src with rng.
func drawBatch(src Source, n int, aug Augmentation, rng *rand.Rand) batch {
	const plane = Size * Size * 3
	data := make([]float32, n*plane)
	kinds, colors, actions := make([]int32, n), make([]int32, n), make([]int32, n)
	for i := range n {
		img, l := src.Draw(rng)
		pixels(data[i*plane:(i+1)*plane], Augment(Fit(img), aug, rng))
		kinds[i], colors[i], actions[i] = int32(l.Kind), int32(l.Color), int32(l.Action)
	}
	return batch{
		images: tensors.FromFlatDataAndDimensions(data, n, Size, Size, 3),
		kind:   tensors.FromFlatDataAndDimensions(kinds, n, 1),
		color:  tensors.FromFlatDataAndDimensions(colors, n, 1),
		action: tensors.FromFlatDataAndDimensions(actions, n, 1),
	}
}

// Train trains the pose and subject judges on images from src with Adam
// (GoMLX's train.Trainer), cross-entropy summed over the kind, colour and
// action heads, and a cosine learning-rate schedule. Every SaveEvery steps
// and on cancellation it writes a checkpoint (all weights, Adam's moments,
// the step counters; the data stream is a function of Seed and step) to
// Dir/CheckpointFile; with Resume it continues from there and ends with
// exactly the weights an uninterrupted run would have. It returns the
// trained judges; the checkpoint stays for the caller to remove.
func Train(ctx stdcontext.Context, backend backends.Backend, src Source, opts TrainOptions) (*Judges, error) {
	o := opts.withDefaults()
	if o.Dir == "" {
		return nil, fmt.Errorf("train judges: no checkpoint folder")
	}
	if o.Seed == HeldOutSeed {
		return nil, fmt.Errorf("train judges: seed %#x is reserved for held-out evaluation", o.Seed)
	}
	if o.Steps < 1 || o.Batch < 1 || o.SaveEvery < 1 || o.LR < 0 {
		return nil, fmt.Errorf("train judges: steps %d, batch %d, save-every %d, lr %g: must be positive", o.Steps, o.Batch, o.SaveEvery, o.LR)
	}
	vocab := src.Vocabulary()
	mlctx := context.New()
	j, err := newJudges(backend, vocab, o.Widths, stemOrDefault(o.Stem), mlctx)
	if err != nil {
		return nil, fmt.Errorf("train judges: %w", err)
	}
	var initValues *checkpoint
	initDigest := "random"
	if o.InitFrom != "" {
		if initValues, initDigest, err = initWeights(backend, o.InitFrom, j); err != nil {
			return nil, fmt.Errorf("train judges: %w", err)
		}
	}
	fingerprint := o.fingerprint(vocab, initDigest)
	ckptPath := filepath.Join(o.Dir, CheckpointFile)
	start := 0
	if o.Resume {
		ck, err := readCheckpoint(ckptPath)
		if err != nil {
			return nil, fmt.Errorf("train judges: resume: %w", err)
		}
		if ck.fingerprint != fingerprint {
			return nil, fmt.Errorf("train judges: checkpoint %s was written with other settings (%s); this run has %s",
				ckptPath, ck.fingerprint, fingerprint)
		}
		start = ck.step
		mlctx.SetLoader(ck)
	} else if initValues != nil {
		mlctx.SetLoader(initValues)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("train judges: %w", err)
	}
	j.init(o.Seed)

	trainer := train.NewTrainer(backend, mlctx,
		func(ctx *context.Context, _ any, inputs []*Node) []*Node {
			cosineschedule.New(ctx, inputs[0].Graph(), dtypes.Float32).
				PeriodInSteps(o.Steps).LearningRate(o.LR).MinLearningRate(o.LR / 50).Done()
			k, c, a := j.logits(ctx.Reuse(), inputs[0])
			return []*Node{k, c, a}
		},
		func(labels, predictions []*Node) *Node {
			var sum *Node
			for i := range predictions {
				l := ReduceAllMean(losses.SparseCategoricalCrossEntropyLogits(labels[i:i+1], predictions[i:i+1]))
				if sum == nil {
					sum = l
				} else {
					sum = Add(sum, l)
				}
			}
			return sum
		},
		optimizers.Adam().LearningRate(o.LR).Done(), nil, nil)

	// A producer draws batches ahead of the trainer; each batch depends only
	// on (Seed, step), so prefetching does not change the result.
	type item struct {
		step int
		b    batch
	}
	dataCtx, stopData := stdcontext.WithCancel(ctx)
	defer stopData()
	queue := make(chan item, 2)
	go func() {
		defer close(queue)
		for s := start; s < o.Steps; s++ {
			b := drawBatch(src, o.Batch, *o.Augment, newRand(o.Seed, uint64(s)+1))
			select {
			case queue <- item{s, b}:
			case <-dataCtx.Done():
				return
			}
		}
	}()

	save := func(step int) error {
		if err := writeCheckpoint(ckptPath, mlctx, step, fingerprint); err != nil {
			return fmt.Errorf("train judges: %w", err)
		}
		return nil
	}
	began := time.Now()
	step := start
	for step < o.Steps {
		it, ok := <-queue
		if err := ctx.Err(); err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("train judges: data stopped at step %d", step)
			}
			if serr := save(step); serr != nil {
				return nil, errors.Join(err, serr)
			}
			return nil, err
		}
		ms, err := trainer.TrainStep(nil, []*tensors.Tensor{it.b.images}, []*tensors.Tensor{it.b.kind, it.b.color, it.b.action})
		if err != nil {
			return nil, fmt.Errorf("train judges: step %d: %w", step+1, err)
		}
		step++
		loss := math.NaN()
		if len(ms) > 2 {
			loss = scalar(ms[2])
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, fmt.Errorf("train judges: step %d: loss is %v", step, loss)
		}
		if step%o.SaveEvery == 0 || step == o.Steps {
			if err := save(step); err != nil {
				return nil, err
			}
		}
		if o.OnProgress != nil {
			o.OnProgress(Progress{Step: step, Steps: o.Steps, Loss: loss, Elapsed: time.Since(began), Resumed: start})
		}
	}
	return j, nil
}

// initWeights reads the weight file path as a Loader of j's variables and
// returns it with the file's SHA-256; the file's judges must have j's
// vocabulary and layout.
func initWeights(backend backends.Backend, path string, j *Judges) (*checkpoint, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("init weights: %w", err)
	}
	from, err := Load(backend, data)
	if err != nil {
		return nil, "", fmt.Errorf("init weights %s: %w", path, err)
	}
	if !from.Vocab.Equal(j.Vocab) || !slices.Equal(from.Widths, j.Widths) || from.Stem != j.Stem {
		return nil, "", fmt.Errorf("init weights %s: judges of widths %v, stem %d, vocabulary %v; this run has %v, %d, %v",
			path, from.Widths, from.Stem, from.Vocab, j.Widths, j.Stem, j.Vocab)
	}
	values := map[string]*tensors.Tensor{}
	for v := range from.ctx.IterVariables() {
		t, err := v.Value()
		if err != nil {
			return nil, "", fmt.Errorf("init weights %s: %w", path, err)
		}
		values[v.ScopeAndName()] = t
	}
	sum := sha256.Sum256(data)
	return &checkpoint{values: values}, hex.EncodeToString(sum[:]), nil
}

// scalar reads a float scalar metric.
func scalar(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}

// stepOf reads the step a checkpoint file holds, or an error.
func stepOf(meta map[string]string) (int, error) {
	s, err := strconv.Atoi(meta["step"])
	if err != nil || s < 0 {
		return 0, fmt.Errorf("step %q", meta["step"])
	}
	return s, nil
}
