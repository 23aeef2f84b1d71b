package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"kata/assets"
	"kata/model/world/judge"
	"kata/store"
)

func init() {
	registerWorld(worldCommand{
		Name:    "judge",
		Summary: "read the kind, colour and action in images with the shipped judges (--eval N: held-out accuracy)",
		Run:     runWorldJudge,
	})
	registerWorld(worldCommand{
		Name:    "train-judges",
		Summary: "train the pose and subject judges on renders (resumable)",
		Run:     runWorldTrainJudges,
	})
}

// JudgesFile is the name of the trained weights train-judges writes in --out.
const JudgesFile = "judges.safetensors"

func runWorldJudge(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world judge", "[--weights FILE] IMAGE... | --eval N [--augmented]")
	weights := fs.String("weights", "", "judges weight file (default: the shipped judges)")
	eval := fs.Int("eval", 0, "judge N held-out renders (seeds never used in training) and print accuracy and confusion matrices")
	augmented := fs.Bool("augmented", false, "with --eval: disturb the renders with the training augmentations")
	be := fs.String("backend", "", backendFlagUsage)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *eval < 0:
		return fmt.Errorf("%w: --eval must not be negative", ErrUsage)
	case *eval == 0 && fs.NArg() == 0:
		fs.Usage()
		return fmt.Errorf("%w: no images (or --eval N)", ErrUsage)
	case *eval > 0 && fs.NArg() > 0:
		return fmt.Errorf("%w: --eval takes no images", ErrUsage)
	case *augmented && *eval == 0:
		return fmt.Errorf("%w: --augmented needs --eval", ErrUsage)
	}
	b, err := OpenBackend(*be, env.Stderr)
	if err != nil {
		return err
	}
	var j *judge.Judges
	if *weights != "" {
		j, err = judge.LoadFile(b, *weights)
	} else {
		j, err = judge.Load(b, assets.Judges)
	}
	if err != nil {
		return err
	}
	if *eval > 0 {
		if !j.Vocab.Equal(judge.WorldVocabulary()) {
			return fmt.Errorf("the judges' vocabulary differs from this Kata World's; retrain them (kata world train-judges)")
		}
		r, err := judge.Evaluate(j, judge.World{}, *eval, *augmented)
		if err != nil {
			return err
		}
		return r.Format(env.Stdout)
	}
	const chunk = 32
	paths := fs.Args()
	for first := 0; first < len(paths); first += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		names := paths[first:min(len(paths), first+chunk)]
		imgs := make([]image.Image, len(names))
		for i, p := range names {
			if imgs[i], err = decodeImageFile(p); err != nil {
				return err
			}
		}
		vs, err := j.Classify(imgs)
		if err != nil {
			return err
		}
		for i, v := range vs {
			fmt.Fprintf(env.Stdout, "%s: kind %s %.2f, colour %s %.2f, action %s %.2f\n", names[i], v.Kind, v.KindP, v.Color, v.ColorP, v.Action, v.ActionP)
		}
	}
	return nil
}

// decodeImageFile reads one picture with the library's decoder (EXIF
// orientation applied, size limits of an import).
func decodeImageFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := store.DecodeImage(f, store.Limits{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

func runWorldTrainJudges(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world train-judges", "[--out DIR] [--steps N] [--resume] [flags]")
	out := fs.String("out", "judges", "folder for the checkpoint and the trained "+JudgesFile)
	steps := fs.Int("steps", 0, "optimiser steps (default 4000)")
	batch := fs.Int("batch", 0, "renders per step (default 48)")
	lr := fs.Float64("lr", 0, "Adam's peak learning rate, cosine decay to 1/50 of it (default 2e-3)")
	seed := fs.Uint64("seed", 0, "seed of the initial weights and the training renders (default 1)")
	saveEvery := fs.Int("save-every", 0, "steps between checkpoints (default 250)")
	stem := fs.Int("stem", 0, fmt.Sprintf("width of the subject judge's full-resolution first convolution (default %d; -1: none)", judge.DefaultStem))
	resume := fs.Bool("resume", false, "continue from the checkpoint in --out (same settings)")
	initFrom := fs.String("init-from", "", "start from these judges' weights (same layout) instead of random ones")
	f32 := fs.Bool("f32", false, "write float32 weights (default float16, half the size)")
	be := fs.String("backend", "", backendFlagUsage)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case *steps < 0 || *batch < 0 || *saveEvery < 0 || *lr < 0:
		return fmt.Errorf("%w: --steps, --batch, --save-every and --lr must not be negative", ErrUsage)
	case *out == "":
		return fmt.Errorf("%w: --out must name a folder", ErrUsage)
	}
	b, err := OpenBackend(*be, env.Stderr)
	if err != nil {
		return err
	}
	report := progressReporter(env.Stderr)
	opts := judge.TrainOptions{Steps: *steps, Batch: *batch, LR: *lr, Seed: *seed, SaveEvery: *saveEvery, Stem: *stem, InitFrom: *initFrom,
		Dir: *out, Resume: *resume, OnProgress: report.step}
	j, err := judge.Train(ctx, b, judge.World{}, opts)
	report.done()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.Stderr, "stopped; continue with --resume (checkpoint in %s)\n", *out)
		}
		return err
	}
	path := filepath.Join(*out, JudgesFile)
	if err := j.Save(path, !*f32); err != nil {
		return err
	}
	// The finished weights supersede the run's checkpoint.
	if err := os.Remove(filepath.Join(*out, judge.CheckpointFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(env.Stderr, "warning:", err)
	}
	fmt.Fprintf(env.Stdout, "%s (%s)\n", path, report.summary())
	return nil
}

// trainReporter shows training progress: a progress bar with loss and ETA on
// a terminal, else a plain line every plainEvery (for log files).
type trainReporter struct {
	w       io.Writer
	bar     *progressbar.ProgressBar
	tty     bool
	last    time.Time
	latest  judge.Progress
	started bool
}

// plainEvery is the interval between progress lines when stderr is not a terminal.
const plainEvery = 30 * time.Second

func progressReporter(w io.Writer) *trainReporter {
	f, ok := w.(*os.File)
	return &trainReporter{w: w, tty: ok && term.IsTerminal(int(f.Fd()))}
}

func (r *trainReporter) step(p judge.Progress) {
	if !r.started && p.Resumed > 0 {
		fmt.Fprintf(r.w, "resumed at step %d\n", p.Resumed)
	}
	r.started, r.latest = true, p
	if r.tty {
		if r.bar == nil {
			r.bar = progressbar.NewOptions(p.Steps, progressbar.OptionSetWriter(r.w),
				progressbar.OptionSetDescription("training judges"), progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
				progressbar.OptionThrottle(0))
			_ = r.bar.Set(p.Resumed)
		}
		r.bar.Describe(fmt.Sprintf("training judges, loss %.4f", p.Loss))
		_ = r.bar.Set(p.Step)
		return
	}
	if now := time.Now(); now.Sub(r.last) >= plainEvery || p.Step == p.Steps {
		r.last = now
		fmt.Fprintf(r.w, "step %d/%d loss %.4f elapsed %s eta %s\n", p.Step, p.Steps, p.Loss,
			p.Elapsed.Round(time.Second), eta(p).Round(time.Second))
	}
}

// eta extrapolates this run's pace to the remaining steps.
func eta(p judge.Progress) time.Duration {
	done := p.Step - p.Resumed
	if done <= 0 {
		return 0
	}
	return time.Duration(float64(p.Elapsed) / float64(done) * float64(p.Steps-p.Step))
}

func (r *trainReporter) done() {
	if r.bar != nil {
		_ = r.bar.Exit()
		fmt.Fprintln(r.w)
	}
}

func (r *trainReporter) summary() string {
	p := r.latest
	return fmt.Sprintf("%d steps, final loss %.4f, %s this run", p.Step, p.Loss, p.Elapsed.Round(time.Second))
}
