package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"kata/model/backend"
	"kata/model/sdtrain"
	"kata/model/worldmodel"
)

func init() {
	registerWorld(worldCommand{
		Name:    "train",
		Summary: "train the built-in Kata World model from scratch on world renders (vae, then unet)",
		Run:     runWorldTrain,
	})
}

// worldTrainArgs are the parsed flags of `kata world train`.
type worldTrainArgs struct {
	stage, ckpt, out, backend string
	initFrom, weighting       string
	restarts                  string
	steps, batch, latents     int
	shards                    int
	lr                        float64
	seed                      uint64
	every                     time.Duration
	resume, preview           bool
}

// defaultWorldCheckpoints is the checkpoint folder when --ckpt is not given:
// the user's cache folder, outside any source tree.
func defaultWorldCheckpoints() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "kata", "world-train")
}

func parseWorldTrainArgs(env Env, args []string) (*worldTrainArgs, error) {
	fs := NewFlagSet(env, "world train", "--stage vae|unet|all|export [flags]")
	a := &worldTrainArgs{}
	fs.StringVar(&a.stage, "stage", "all", "vae, unet, all (vae then unet, then export) or export (the unet checkpoint's current EMA weights)")
	fs.IntVar(&a.steps, "steps", 0, "optimiser steps of each stage run (default the recipe's: vae 1500, unet 8000)")
	fs.IntVar(&a.batch, "batch", 0, "samples per step (default the recipe's: vae 8, unet 16)")
	fs.IntVar(&a.shards, "shards", 0, "concurrent graph executions each batch is split into (default the recipe's 2 on the pure-Go backend, 1 on others)")
	fs.IntVar(&a.latents, "latent-samples", 256, "vae: renders encoded to measure the latent scale")
	fs.Float64Var(&a.lr, "lr", 0, "peak learning rate (default the recipe's: vae 1e-3, unet 5e-4)")
	fs.Uint64Var(&a.seed, "seed", 1, "random seed (initial weights, data stream, noise)")
	fs.StringVar(&a.ckpt, "ckpt", defaultWorldCheckpoints(), "checkpoint folder (vae.safetensors, unet.safetensors, loss curves)")
	fs.StringVar(&a.out, "out", "", "diffusers folder to export the model to after the unet stage (default CKPT/model)")
	fs.DurationVar(&a.every, "checkpoint-every", 5*time.Minute, "wall time between checkpoints")
	fs.BoolVar(&a.preview, "preview", true, "write CKPT/STAGE-preview.png with every checkpoint (vae: reconstructions; unet: samples)")
	fs.StringVar(&a.initFrom, "init-from", "", "unet: start from this unet checkpoint's (or exported model folder's) weights and scale (fine-tune, or continue a run with changed settings) instead of random weights")
	fs.StringVar(&a.restarts, "restarts", "", "comma-separated steps of the cosine's warm restarts, or none (default the recipe's: none)")
	fs.StringVar(&a.weighting, "weighting", "", "unet: loss weight per timestep: uniform (SD's plain epsilon loss) or p2 (1/(1+SNR); default the recipe's: p2)")
	fs.BoolVar(&a.resume, "resume", false, "continue each stage from its checkpoint when there is one")
	fs.StringVar(&a.backend, "backend", "", backendFlagUsage)
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case a.stage != "vae" && a.stage != "unet" && a.stage != "all" && a.stage != "export":
		return nil, fmt.Errorf("%w: --stage must be vae, unet, all or export", ErrUsage)
	case a.steps < 0 || a.batch < 0 || a.lr < 0 || a.shards < 0:
		return nil, fmt.Errorf("%w: --steps, --batch, --shards and --lr must not be negative", ErrUsage)
	case a.latents < 2:
		return nil, fmt.Errorf("%w: --latent-samples must be at least 2", ErrUsage)
	case a.every <= 0:
		return nil, fmt.Errorf("%w: --checkpoint-every must be positive", ErrUsage)
	case a.ckpt == "":
		return nil, fmt.Errorf("%w: --ckpt must name a folder", ErrUsage)
	case (a.initFrom != "" || a.weighting != "") && a.stage != "unet":
		return nil, fmt.Errorf("%w: --init-from and --weighting apply to --stage unet", ErrUsage)
	case a.weighting != "" && a.weighting != "uniform" && a.weighting != sdtrain.WeightingP2:
		return nil, fmt.Errorf("%w: --weighting must be uniform or %s", ErrUsage, sdtrain.WeightingP2)
	}
	if _, err := a.restartSteps(); err != nil {
		return nil, err
	}
	if a.out == "" {
		a.out = filepath.Join(a.ckpt, "model")
	}
	return a, nil
}

// restartSteps parses --restarts: nil for the recipe's, an empty list for
// "none".
func (a *worldTrainArgs) restartSteps() ([]int, error) {
	if a.restarts == "" {
		return nil, nil
	}
	if a.restarts == "none" {
		return []int{}, nil
	}
	var out []int
	for _, f := range splitList(a.restarts) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%w: --restarts: %q is not a step", ErrUsage, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// options returns the recipe of stage with the flags' overrides; pureGo
// says whether the backend is the pure-Go one (the recipe's shards are for
// it).
func (a *worldTrainArgs) options(stage sdtrain.Stage, pureGo bool) sdtrain.Options {
	o := worldmodel.Recipe(stage)
	if !pureGo {
		o.Shards = 1
	}
	if a.shards > 0 {
		o.Shards = a.shards
	}
	o.Seed, o.CheckpointDir, o.CheckpointEvery, o.Resume = a.seed, a.ckpt, a.every, a.resume
	o.LatentSamples, o.NoPreview = a.latents, !a.preview
	if r, _ := a.restartSteps(); r != nil {
		o.Restarts = r
	}
	if a.steps > 0 {
		o = o.WithSteps(a.steps)
	}
	if a.batch > 0 {
		o.Batch = a.batch
	}
	if a.lr > 0 {
		o.LR = a.lr
	}
	if stage == sdtrain.StageUNet {
		o.InitFrom = a.initFrom
		switch a.weighting {
		case "uniform":
			o.Weighting = sdtrain.WeightingUniform
		case sdtrain.WeightingP2:
			o.Weighting = sdtrain.WeightingP2
		}
	}
	return o
}

func runWorldTrain(ctx context.Context, env Env, args []string) error {
	a, err := parseWorldTrainArgs(env, args)
	if err != nil {
		return err
	}
	var stages []sdtrain.Stage
	switch a.stage {
	case "vae":
		stages = []sdtrain.Stage{sdtrain.StageVAE}
	case "unet":
		stages = []sdtrain.Stage{sdtrain.StageUNet}
	case "all":
		stages = []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet}
	}
	if len(stages) > 0 {
		be, err := OpenBackend(a.backend, env.Stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "checkpoints in %s\n", a.ckpt)
		for _, stage := range stages {
			o := a.options(stage, backend.PureGo(be))
			fmt.Fprintf(env.Stderr, "stage %s: %d steps of batch %d in %d shards, lr %g, restarts %v\n", stage, o.Steps, o.Batch, o.Shards, o.LR, o.Restarts)
			if o.InitFrom != "" || o.Weighting != "" {
				fmt.Fprintf(env.Stderr, "from %q, loss weighting %q\n", o.InitFrom, o.Weighting)
			}
			p := newTrainProgress(env.Stderr)
			res, err := sdtrain.Train(ctx, be, worldmodel.Architecture(), worldmodel.Source{}, o, p.event)
			p.finish()
			if err != nil {
				if errors.Is(err, context.Canceled) {
					fmt.Fprintf(env.Stderr, "stopped; continue with --resume (checkpoints in %s)\n", a.ckpt)
				}
				return err
			}
			fmt.Fprintf(env.Stdout, "%s stage: %d steps, %s, loss curve %s\n", stage, res.Steps, res.Checkpoint,
				sdtrain.LossCurvePath(a.ckpt, stage))
			if res.ScalingFactor > 0 && stage == sdtrain.StageVAE {
				fmt.Fprintf(env.Stdout, "vae scaling factor %.5f (1 / latent std)\n", res.ScalingFactor)
			}
		}
		if stages[len(stages)-1] != sdtrain.StageUNet {
			return nil
		}
	}
	if err := sdtrain.Export(sdtrain.CheckpointPath(a.ckpt, sdtrain.StageUNet), a.out); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "model %s\n", a.out)
	return nil
}

// trainProgress shows a stage's steps: a progress bar with the loss and the
// time left on a terminal, else a plain line every 30 seconds (logs).
type trainProgress struct {
	w         io.Writer
	bar       *progressbar.ProgressBar
	tty       bool
	lastPrint time.Time
	last      sdtrain.Event
}

func newTrainProgress(w io.Writer) *trainProgress {
	f, ok := w.(*os.File)
	return &trainProgress{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (p *trainProgress) event(e sdtrain.Event) {
	switch e.Kind {
	case sdtrain.EventMessage:
		p.line(e.Message)
	case sdtrain.EventCheckpoint:
		if !p.tty {
			p.line(fmt.Sprintf("checkpoint %s at step %d", e.Path, e.Step))
		}
	case sdtrain.EventStep:
		p.last = e
		if p.tty {
			if p.bar == nil {
				p.bar = progressbar.NewOptions(e.Steps, progressbar.OptionSetWriter(p.w),
					progressbar.OptionSetDescription(string(e.Stage)), progressbar.OptionShowCount(),
					progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
					progressbar.OptionThrottle(0))
			}
			p.bar.Describe(fmt.Sprintf("%s, loss %.4f", e.Stage, e.Smoothed))
			_ = p.bar.Set(e.Step)
			return
		}
		if time.Since(p.lastPrint) >= 30*time.Second || e.Step == e.Steps || e.Step == 1 {
			p.lastPrint = time.Now()
			fmt.Fprintf(p.w, "%s %s step %d/%d loss %.4f (smoothed %.4f) lr %.3g grad norm %.3g, %.3f steps/s, %s left\n",
				time.Now().UTC().Format(time.RFC3339), e.Stage, e.Step, e.Steps, e.Loss, e.Smoothed, e.LR, e.GradNorm,
				e.StepsPerSec, e.ETA.Round(time.Second))
		}
	}
}

// line prints a message on its own line (below the bar on a terminal).
func (p *trainProgress) line(s string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, s)
}

func (p *trainProgress) finish() {
	if p.bar != nil {
		_ = p.bar.Exit()
		fmt.Fprintln(p.w)
	}
}
