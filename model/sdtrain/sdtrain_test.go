package sdtrain

import (
	gocontext "context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"kata/model/backend"
	"kata/model/safetensors"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/sd/sdtest"
)

// tinyArch is an SD 1.x topology small enough for unit tests: 32 px images,
// a factor-4 VAE, 8x8 latents and a 16-layer cross-attention UNet.
func tinyArch() Architecture {
	text := sd.SD15TextConfig()
	text.HiddenSize, text.IntermediateSize, text.NumHiddenLayers, text.NumAttentionHeads = 16, 32, 1, 2
	unet := sd.SD15UNetConfig()
	unet.BlockOutChannels, unet.NormNumGroups, unet.AttentionHeads = []int{8, 8, 16, 16}, 4, []int{2, 2, 2, 2}
	unet.CrossAttentionDim, unet.SampleSize, unet.LayersPerBlock = 16, 8, 1
	vae := sd.SD15VAEConfig()
	vae.BlockOutChannels, vae.NormNumGroups, vae.LayersPerBlock = []int{8, 8, 16}, 4, 1
	vae.DownBlockTypes, vae.UpBlockTypes = vae.DownBlockTypes[:3], vae.UpBlockTypes[:3]
	return Architecture{Text: text, UNet: unet, VAE: vae, Scheduler: scheduler.DefaultConfig()}
}

func testBackend(t *testing.T) backends.Backend {
	t.Helper()
	be, err := backend.New(sdtest.Backend())
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// fixed always draws the same sample (the trainer's noise still varies).
type sameSample struct{ s Sample }

func (f sameSample) Draw(*rand.Rand, int) (Sample, error) { return f.s, nil }

func fixedSource(t *testing.T, size int) sameSample {
	t.Helper()
	s, err := Shapes{}.Draw(rand.New(rand.NewPCG(3, 4)), size)
	if err != nil {
		t.Fatal(err)
	}
	return sameSample{s}
}

func meanOf(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(len(v))
}

func trainStage(t *testing.T, be backends.Backend, src Source, o Options, onEvent func(Event)) *Result {
	t.Helper()
	res, err := Train(gocontext.Background(), be, tinyArch(), src, o, onEvent)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestStagesLowerLossOnFixedBatch(t *testing.T) {
	be := testBackend(t)
	dir := t.TempDir()
	src := fixedSource(t, tinyArch().ImageSize())
	tests := []struct {
		stage Stage
		steps int
		lr    float64
	}{
		{StageVAE, 30, 3e-3},
		{StageUNet, 30, 3e-3},
	}
	for _, tc := range tests {
		t.Run(string(tc.stage), func(t *testing.T) {
			res := trainStage(t, be, src, Options{Stage: tc.stage, Steps: tc.steps, Batch: 4, LR: tc.lr, Warmup: 1,
				CheckpointDir: dir, LatentSamples: 8, Seed: 1, PreviewPrompts: []string{"a red square"}}, nil)
			first, last := meanOf(res.Losses[:5]), meanOf(res.Losses[len(res.Losses)-5:])
			t.Logf("%s: loss %.4f over the first 5 steps, %.4f over the last 5; scaling factor %.4f", tc.stage, first, last, res.ScalingFactor)
			if !(last < 0.8*first) {
				t.Fatalf("%s loss did not fall: first 5 steps %.4f, last 5 %.4f", tc.stage, first, last)
			}
			for _, p := range []string{LossCurvePath(dir, tc.stage), PreviewPath(dir, tc.stage)} {
				if _, err := os.Stat(p); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	if t.Failed() {
		return
	}
	t.Run("export loads and generates", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "model")
		if err := Export(CheckpointPath(dir, StageUNet), out); err != nil {
			t.Fatal(err)
		}
		m, err := sd.Load(out, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Finalize()
		if m.VAE.ScalingFactor == 0.18215 {
			t.Fatalf("exported folder lacks the measured scale (%g)", m.VAE.ScalingFactor)
		}
		for _, f := range []string{"tokenizer/vocab.json", "tokenizer/merges.txt", "scheduler/scheduler_config.json"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Fatal(err)
			}
		}
		p, err := sd.NewPipeline(be, m)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Finalize()
		res, err := p.Generate(gocontext.Background(), sd.GenerateOptions{Prompt: "a red square", Steps: 3, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if b := res.Image.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
			t.Fatalf("image %v, want 32x32", b)
		}
	})
}

// TestResumeIsBitIdentical stops a stage after one step (a cancelled
// context writes the checkpoint), resumes it, and compares every weight,
// moment and EMA value with an uninterrupted run.
func TestResumeIsBitIdentical(t *testing.T) {
	be := testBackend(t)
	src := Shapes{}
	base := t.TempDir()
	vae := Options{Stage: StageVAE, Steps: 2, Batch: 2, CheckpointDir: base, LatentSamples: 4, Seed: 7}
	trainStage(t, be, src, vae, nil)
	vaeCkpt, err := os.ReadFile(CheckpointPath(base, StageVAE))
	if err != nil {
		t.Fatal(err)
	}
	for _, stage := range []Stage{StageVAE, StageUNet} {
		t.Run(string(stage), func(t *testing.T) {
			whole, parted := t.TempDir(), t.TempDir()
			for _, d := range []string{whole, parted} {
				if err := os.WriteFile(CheckpointPath(d, StageVAE), vaeCkpt, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			o := Options{Stage: stage, Steps: 3, Batch: 2, LatentSamples: 4, Seed: 11, CheckpointDir: whole}
			if stage == StageVAE {
				o.CheckpointDir = whole
			}
			trainStage(t, be, src, o, nil)

			o.CheckpointDir = parted
			ctx, cancel := gocontext.WithCancel(gocontext.Background())
			_, err := Train(ctx, be, tinyArch(), src, o, func(e Event) {
				if e.Kind == EventStep && e.Step == 1 {
					cancel()
				}
			})
			if !errors.Is(err, gocontext.Canceled) {
				t.Fatalf("cancelled run returned %v", err)
			}
			c, err := loadCheckpoint(CheckpointPath(parted, stage))
			if err != nil || c.Step != 1 {
				t.Fatalf("checkpoint after the cancel: step %v, %v", c, err)
			}
			o.Resume = true
			trainStage(t, be, src, o, nil)

			a, err := loadCheckpoint(CheckpointPath(whole, stage))
			if err != nil {
				t.Fatal(err)
			}
			b, err := loadCheckpoint(CheckpointPath(parted, stage))
			if err != nil {
				t.Fatal(err)
			}
			if a.Step != 3 || b.Step != 3 || !slices.Equal(a.Losses, b.Losses) || !slices.Equal(a.RNG, b.RNG) {
				t.Fatalf("steps %d/%d, losses %v / %v", a.Step, b.Step, a.Losses, b.Losses)
			}
			for _, part := range []struct {
				name string
				x, y map[string][]float32
			}{{"weights", a.Weights, b.Weights}, {"m", a.M, b.M}, {"v", a.V, b.V}, {"ema", a.EMA, b.EMA}} {
				if len(part.x) != len(part.y) || len(part.x) == 0 {
					t.Fatalf("%s: %d vs %d tensors", part.name, len(part.x), len(part.y))
				}
				for k, x := range part.x {
					if !slices.Equal(x, part.y[k]) {
						t.Fatalf("%s %s differs after resuming", part.name, k)
					}
				}
			}
		})
	}
}

func TestResumeRefusesAnotherRun(t *testing.T) {
	be := testBackend(t)
	dir := t.TempDir()
	o := Options{Stage: StageVAE, Steps: 1, Batch: 1, CheckpointDir: dir, LatentSamples: 2, Seed: 1}
	trainStage(t, be, Shapes{}, o, nil)
	o.Seed, o.Resume = 2, true
	if _, err := Train(gocontext.Background(), be, tinyArch(), Shapes{}, o, nil); err == nil {
		t.Fatal("resumed a checkpoint of another seed")
	}
	u := Options{Stage: StageUNet, Steps: 1, CheckpointDir: t.TempDir()}
	if _, err := Train(gocontext.Background(), be, tinyArch(), Shapes{}, u, nil); err == nil {
		t.Fatal("the unet stage started without a vae stage")
	}
}

// TestFinishedRunContinuesAsFirstCycle: a finished run of R steps resumes
// as the first cycle of a run with a warm restart at R and ends exactly
// where that run started from scratch ends.
func TestFinishedRunContinuesAsFirstCycle(t *testing.T) {
	be := testBackend(t)
	src := Shapes{}
	whole, parted, other := t.TempDir(), t.TempDir(), t.TempDir()
	trainStage(t, be, src, Options{Stage: StageVAE, Steps: 1, Batch: 2, CheckpointDir: whole, LatentSamples: 4, Seed: 7}, nil)
	vaeCkpt, err := os.ReadFile(CheckpointPath(whole, StageVAE))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{parted, other} {
		if err := os.WriteFile(CheckpointPath(d, StageVAE), vaeCkpt, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	long := Options{Stage: StageUNet, Steps: 4, Restarts: []int{2}, Batch: 2, Warmup: 1, Cosine: true, LatentSamples: 4, Seed: 5, CheckpointDir: whole}
	trainStage(t, be, src, long, nil)

	short := long
	short.Steps, short.Restarts, short.CheckpointDir = 2, nil, parted
	trainStage(t, be, src, short, nil)
	cont := long
	cont.CheckpointDir, cont.Resume = parted, true
	trainStage(t, be, src, cont, nil)

	a, err := loadCheckpoint(CheckpointPath(whole, StageUNet))
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadCheckpoint(CheckpointPath(parted, StageUNet))
	if err != nil {
		t.Fatal(err)
	}
	if a.Step != 4 || b.Step != 4 || !a.Done || !b.Done || !slices.Equal(a.Losses, b.Losses) {
		t.Fatalf("steps %d/%d, done %v/%v, losses %v / %v", a.Step, b.Step, a.Done, b.Done, a.Losses, b.Losses)
	}
	for k, x := range a.EMA {
		if !slices.Equal(x, b.EMA[k]) || !slices.Equal(a.Weights[k], b.Weights[k]) {
			t.Fatalf("%s differs between the continued and the whole run", k)
		}
	}

	// A run of 3 steps is not the first cycle of a restart at 2.
	three := short
	three.Steps, three.CheckpointDir = 3, other
	trainStage(t, be, src, three, nil)
	cont.CheckpointDir = other
	if _, err := Train(gocontext.Background(), be, tinyArch(), src, cont, nil); err == nil {
		t.Fatal("a 3-step run continued as the first cycle of a restart at 2")
	}
}

// TestInitFrom starts a P2-weighted unet run from another run's checkpoint:
// it takes that run's weights (frozen VAE exactly; the trained ones moved by
// one step at a negligible rate) and scaling factor, resumes under its own
// fingerprint reading only the initial checkpoint's metadata, and refuses to resume from a different initial checkpoint or
// to start from a vae checkpoint.
func TestInitFrom(t *testing.T) {
	be := testBackend(t)
	src := Shapes{}
	first, second := t.TempDir(), t.TempDir()
	trainStage(t, be, src, Options{Stage: StageVAE, Steps: 1, Batch: 2, CheckpointDir: first, LatentSamples: 4, Seed: 7}, nil)
	trainStage(t, be, src, Options{Stage: StageUNet, Steps: 2, Batch: 2, CheckpointDir: first, Seed: 7, NoPreview: true}, nil)
	a, err := loadCheckpoint(CheckpointPath(first, StageUNet))
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Stage: StageUNet, Steps: 2, Batch: 2, LR: 1e-12, Warmup: 1, Seed: 9, CheckpointDir: second, NoPreview: true,
		Weighting: WeightingP2, InitFrom: CheckpointPath(first, StageUNet)}
	ctx, cancel := gocontext.WithCancel(gocontext.Background())
	_, err = Train(ctx, be, tinyArch(), src, o, func(e Event) {
		if e.Kind == EventStep && e.Step == 1 {
			cancel()
		}
	})
	if !errors.Is(err, gocontext.Canceled) {
		t.Fatalf("cancelled run returned %v", err)
	}
	b, err := loadCheckpoint(CheckpointPath(second, StageUNet))
	if err != nil {
		t.Fatal(err)
	}
	if b.ScalingFactor != a.ScalingFactor {
		t.Errorf("scaling factor %g, want the initial checkpoint's %g", b.ScalingFactor, a.ScalingFactor)
	}
	trained := map[string]bool{}
	for k := range b.EMA {
		trained[k] = true
	}
	for k, w := range a.Weights {
		d := 0.0
		for i := range w {
			d = max(d, math.Abs(float64(w[i]-b.Weights[k][i])))
		}
		if (!trained[k] && d != 0) || d > 1e-6 {
			t.Fatalf("%s (trained %v) moved by %g from the initial checkpoint", k, trained[k], d)
		}
	}
	if len(b.Losses) != 1 || !(b.Losses[0] > 0) {
		t.Fatalf("losses %v", b.Losses)
	}
	// Resuming reads only the initial checkpoint's metadata: a copy of it
	// without its tensors serves (and cannot start a fresh run).
	sf, err := safetensors.Open(CheckpointPath(first, StageUNet))
	if err != nil {
		t.Fatal(err)
	}
	header := filepath.Join(t.TempDir(), "header-only.safetensors")
	err = safetensors.Write(header, nil, sf.Metadata())
	sf.Close()
	if err != nil {
		t.Fatal(err)
	}
	o.Resume, o.InitFrom = true, header
	if res := trainStage(t, be, src, o, nil); res.Steps != 2 {
		t.Fatalf("resumed to step %d", res.Steps)
	}
	fresh := o
	fresh.Resume, fresh.CheckpointDir = false, t.TempDir()
	if _, err := Train(gocontext.Background(), be, tinyArch(), src, fresh, nil); err == nil {
		t.Fatal("a fresh run started from a checkpoint without tensors")
	}
	o.InitFrom = CheckpointPath(second, StageUNet) // another initial checkpoint
	if _, err := Train(gocontext.Background(), be, tinyArch(), src, o, nil); err == nil {
		t.Fatal("resumed a run under another initial checkpoint")
	}
	o.Resume, o.CheckpointDir, o.InitFrom = false, t.TempDir(), CheckpointPath(first, StageVAE)
	if _, err := Train(gocontext.Background(), be, tinyArch(), src, o, nil); err == nil {
		t.Fatal("started a unet run from a vae checkpoint")
	}

	// An exported diffusers folder: its weights to float16 and back, its scale.
	folder := filepath.Join(t.TempDir(), "model")
	if err := Export(CheckpointPath(first, StageUNet), folder); err != nil {
		t.Fatal(err)
	}
	o.CheckpointDir, o.InitFrom, o.Steps = t.TempDir(), folder, 1
	trainStage(t, be, src, o, nil)
	f, err := loadCheckpoint(CheckpointPath(o.CheckpointDir, StageUNet))
	if err != nil {
		t.Fatal(err)
	}
	if f.ScalingFactor != a.ScalingFactor {
		t.Errorf("from the folder: scaling factor %g, want %g", f.ScalingFactor, a.ScalingFactor)
	}
	for k, w := range a.EMA {
		for i := range w {
			if d := math.Abs(float64(w[i] - f.Weights[k][i])); d > 1e-3*math.Max(1, math.Abs(float64(w[i]))) {
				t.Fatalf("from the folder: %s[%d] is %g, the exported EMA %g", k, i, f.Weights[k][i], w[i])
			}
		}
	}

	// Resuming from a folder reads none of its weights: with the text
	// encoder's and the VAE's files cut short the run resumes, and with
	// another UNet file it is refused (another fingerprint).
	o.CheckpointDir, o.Steps = t.TempDir(), 2
	ctx, cancel = gocontext.WithCancel(gocontext.Background())
	_, err = Train(ctx, be, tinyArch(), src, o, func(e Event) {
		if e.Kind == EventStep && e.Step == 1 {
			cancel()
		}
	})
	if !errors.Is(err, gocontext.Canceled) {
		t.Fatalf("cancelled run from the folder returned %v", err)
	}
	for _, sub := range []string{"text_encoder/model.safetensors", "vae/diffusion_pytorch_model.safetensors"} {
		if err := os.Truncate(filepath.Join(folder, sub), 10); err != nil {
			t.Fatal(err)
		}
	}
	o.Resume = true
	if res := trainStage(t, be, src, o, nil); res.Steps != 2 {
		t.Fatalf("resumed from the folder to step %d", res.Steps)
	}
	if err := Export(CheckpointPath(second, StageUNet), folder+"-other"); err != nil {
		t.Fatal(err)
	}
	unet := "unet/diffusion_pytorch_model.safetensors"
	if err := os.Rename(filepath.Join(folder+"-other", unet), filepath.Join(folder, unet)); err != nil {
		t.Fatal(err)
	}
	if _, err := Train(gocontext.Background(), be, tinyArch(), src, o, nil); err == nil || !strings.Contains(err.Error(), "another run") {
		t.Fatalf("resumed a run whose initial folder has another UNet: %v", err)
	}
}

// TestOverlapMatchesSerial runs both stages with the host work spread over
// the cores and the next batch drawn during each step (the default), and
// again with Options.Serial (every draw and update on one goroutine, in the
// order of a step), and requires the same checkpoints bit for bit: weights,
// moments, EMA, losses and the RNG state. The clip norm is low enough for
// every step to be clipped.
func TestOverlapMatchesSerial(t *testing.T) {
	be := testBackend(t)
	serial, overlapped := t.TempDir(), t.TempDir()
	for _, stage := range []Stage{StageVAE, StageUNet} {
		for _, dir := range []string{serial, overlapped} {
			o := Options{Stage: stage, Steps: 4, Batch: 2, LatentSamples: 4, Seed: 13, ClipNorm: 1e-3, CheckpointDir: dir,
				NoPreview: true, Serial: dir == serial}
			trainStage(t, be, Shapes{}, o, nil)
		}
		a, err := loadCheckpoint(CheckpointPath(serial, stage))
		if err != nil {
			t.Fatal(err)
		}
		b, err := loadCheckpoint(CheckpointPath(overlapped, stage))
		if err != nil {
			t.Fatal(err)
		}
		if a.Step != 4 || !slices.Equal(a.Losses, b.Losses) || !slices.Equal(a.RNG, b.RNG) || a.ScalingFactor != b.ScalingFactor {
			t.Fatalf("%s: losses %v / %v, RNG %x / %x, scale %g / %g", stage, a.Losses, b.Losses, a.RNG, b.RNG, a.ScalingFactor, b.ScalingFactor)
		}
		for _, part := range []struct {
			name string
			x, y map[string][]float32
		}{{"weights", a.Weights, b.Weights}, {"m", a.M, b.M}, {"v", a.V, b.V}, {"ema", a.EMA, b.EMA}} {
			if len(part.x) != len(part.y) || len(part.x) == 0 {
				t.Fatalf("%s %s: %d vs %d tensors", stage, part.name, len(part.x), len(part.y))
			}
			for k, x := range part.x {
				if !slices.Equal(x, part.y[k]) {
					t.Fatalf("%s: %s %s differs between the serial and the overlapped run", stage, part.name, k)
				}
			}
		}
	}
}

// TestShardsMatchOneBatch checks that a step split into concurrent shards
// (Options.Shards) computes the loss and gradient of the whole batch: the
// same values up to the order of the float sums.
func TestShardsMatchOneBatch(t *testing.T) {
	be := testBackend(t)
	dir := t.TempDir()
	trainStage(t, be, Shapes{}, Options{Stage: StageVAE, Steps: 1, Batch: 2, LatentSamples: 4, CheckpointDir: dir, NoPreview: true}, nil)
	for _, stage := range []Stage{StageVAE, StageUNet} {
		for _, shards := range []int{2, 4} {
			t.Run(fmt.Sprintf("%s/%d", stage, shards), func(t *testing.T) {
				var losses, norms []float64
				var grads [][]float32
				for _, k := range []int{1, shards} {
					o, err := Options{Stage: stage, Steps: 1, Batch: 4, Shards: k, Seed: 5, ClipNorm: -1, CheckpointDir: dir,
						NoPreview: true, Weighting: map[Stage]string{StageUNet: WeightingP2}[stage]}.withDefaults()
					if err != nil {
						t.Fatal(err)
					}
					r, err := newRun(be, tinyArch(), Shapes{}, o, func(Event) {})
					if err != nil {
						t.Fatal(err)
					}
					if err := r.compile(); err != nil {
						t.Fatal(err)
					}
					in, err := r.draw(rand.New(r.pcg))
					if err != nil {
						t.Fatal(err)
					}
					if len(in.args) != k {
						t.Fatalf("%d shards of inputs, want %d", len(in.args), k)
					}
					loss, norm, err := r.trainStep(in, 1e-3)
					if err != nil {
						t.Fatal(err)
					}
					losses, norms, grads = append(losses, loss), append(norms, norm), append(grads, r.grad)
				}
				if d := math.Abs(losses[1] - losses[0]); d > 1e-5*math.Abs(losses[0]) || losses[0] == 0 {
					t.Errorf("loss %g with %d shards, %g in one batch", losses[1], shards, losses[0])
				}
				if d := math.Abs(norms[1] - norms[0]); d > 1e-4*norms[0] || norms[0] == 0 {
					t.Errorf("gradient norm %g with %d shards, %g in one batch", norms[1], shards, norms[0])
				}
				var worst float64
				for i, g := range grads[0] {
					worst = max(worst, math.Abs(float64(grads[1][i]-g)))
				}
				if worst > 1e-5*norms[0] {
					t.Errorf("gradients differ by up to %g (norm %g)", worst, norms[0])
				}
			})
		}
	}
}

// TestFinishedStageResumes resumes each finished stage (what `kata world
// train --stage all --resume` does after a stop in the unet stage): it
// returns at once with its steps and scale, for the vae stage too, whose
// scale is measured at its end.
func TestFinishedStageResumes(t *testing.T) {
	be := testBackend(t)
	dir := t.TempDir()
	for _, stage := range []Stage{StageVAE, StageUNet} {
		o := Options{Stage: stage, Steps: 2, Batch: 2, LatentSamples: 4, CheckpointDir: dir, NoPreview: true}
		first := trainStage(t, be, Shapes{}, o, nil)
		o.Resume = true
		var steps int
		again := trainStage(t, be, Shapes{}, o, func(e Event) {
			if e.Kind == EventStep {
				steps++
			}
		})
		if steps != 0 || again.Steps != 2 || again.ScalingFactor != first.ScalingFactor {
			t.Fatalf("%s resumed: %d steps run, at step %d, scale %g (first %g)", stage, steps, again.Steps, again.ScalingFactor, first.ScalingFactor)
		}
	}
}
