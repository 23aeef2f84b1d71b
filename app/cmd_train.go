package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/placeholder"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/store"
	"kata/store/imagemeta"
)

func init() {
	Register(Command{
		Name:    "train",
		Summary: "learn an action identifier (<name>) from a few photos (ADI, P+ or textual inversion)",
		Run:     runTrain,
	})
}

// listFlag collects a repeatable string flag.
type listFlag []string

// String implements flag.Value.
func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value: every use of the flag adds one value.
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// trainArgs are the parsed flags of `kata train`.
type trainArgs struct {
	model, config, name, out, method, checkpoint, backend string
	initWord, initFrom, caption, fit, scope, exportA1111  string
	previewDir, trigger                                   string
	images, contrast                                      listFlag
	steps, batch, accum, ckptEvery, previewEvery          int
	negatives                                             int
	lr, beta, weightDecay, strength                       float64
	seed                                                  uint64
	resume, noFlip, lazyAdam                              bool
}

func parseTrainArgs(env Env, args []string) (*trainArgs, error) {
	fs := NewFlagSet(env, "train", "--model M --images DIR|FILE [...] --name NAME --out FILE [flags]")
	a := &trainArgs{}
	fs.StringVar(&a.model, "model", "", "diffusers folder or single-file .safetensors checkpoint (default the built-in Kata World model)")
	fs.StringVar(&a.config, "config", "", "diffusers folder whose configs describe a single-file --model")
	fs.Var(&a.images, "images", "exemplar image folder or file (repeatable; extra arguments are images too)")
	fs.StringVar(&a.name, "name", "", "action name; --name handstand makes the trigger <handstand> (required)")
	fs.StringVar(&a.out, "out", "", "identifier file to write (default NAME.safetensors)")
	fs.StringVar(&a.method, "method", "adi", "adi, p+ or ti")
	fs.IntVar(&a.steps, "steps", adi.DefaultSteps, "optimiser steps")
	fs.Float64Var(&a.lr, "lr", 0, "AdamW learning rate (default 5e-3 for adi/p+, 5e-4 x batch for ti)")
	fs.Float64Var(&a.weightDecay, "weight-decay", 1e-2, "AdamW weight decay")
	fs.BoolVar(&a.lazyAdam, "lazy-adam", false, "AdamW leaves entries with a zero gradient (those ADI's masks drop) as they are for the step")
	mask := adi.DefaultMaskConfig()
	fs.Float64Var(&a.beta, "beta", mask.Beta, "adi: gradient-mask quantile in [0, 1]")
	fs.StringVar(&a.scope, "mask-scope", string(mask.Scope), "adi: take mask quantiles per layer token (layer) or over all vectors (all)")
	fs.IntVar(&a.negatives, "negatives", adi.DefaultContrastPerExemplar, "adi: synthesised contrast images per exemplar without --contrast photos")
	fs.Float64Var(&a.strength, "contrast-strength", adi.DefaultContrastStrength, "adi: image-to-image strength of synthesised contrast images, in (0, 1]")
	fs.IntVar(&a.batch, "batch", 1, "anchors per micro-batch")
	fs.IntVar(&a.accum, "accum", 1, "micro-batches accumulated per step")
	fs.Uint64Var(&a.seed, "seed", 0, "random seed")
	fs.StringVar(&a.initWord, "init-word", "person", "word whose embedding starts the identifier")
	fs.StringVar(&a.initFrom, "init-from", "", "identifier file to continue from instead of --init-word")
	fs.StringVar(&a.caption, "caption", "", `caption template for images without NN.txt/text.json, "{}" marks the action (default "`+placeholder.DefaultCaption+`")`)
	fs.StringVar(&a.fit, "fit", "crop", "bring images to the model's size by centre crop (crop) or padding (pad)")
	fs.BoolVar(&a.noFlip, "no-flip", false, "disable random horizontal flips")
	fs.Var(&a.contrast, "contrast", "adi: your own contrast photo or folder (same context, other action; repeatable)")
	fs.StringVar(&a.checkpoint, "checkpoint", "", "training state file for --resume (default OUT"+trainStateExt+")")
	fs.IntVar(&a.ckptEvery, "checkpoint-every", 100, "write a checkpoint every N steps")
	fs.BoolVar(&a.resume, "resume", false, "continue from the checkpoint if it exists")
	fs.IntVar(&a.previewEvery, "preview-every", 0, "render a preview image every N steps (0: never)")
	fs.StringVar(&a.previewDir, "preview-dir", "", "folder for previews (default next to --out)")
	fs.StringVar(&a.exportA1111, "export-a1111", "", "ti: also write the AUTOMATIC1111/ComfyUI/diffusers layout to this file")
	fs.StringVar(&a.backend, "backend", "", backendFlagUsage)
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	a.images = append(a.images, fs.Args()...)
	m, err := adi.ParseMethod(a.method)
	switch {
	case len(a.images) == 0:
		return nil, fmt.Errorf("%w: --images is required", ErrUsage)
	case a.name == "":
		return nil, fmt.Errorf("%w: --name is required", ErrUsage)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	case a.steps < 1:
		return nil, fmt.Errorf("%w: --steps must be at least 1", ErrUsage)
	case a.batch < 1 || a.accum < 1:
		return nil, fmt.Errorf("%w: --batch and --accum must be at least 1", ErrUsage)
	case a.lr < 0 || a.weightDecay < 0:
		return nil, fmt.Errorf("%w: --lr and --weight-decay must not be negative", ErrUsage)
	case !(a.beta >= 0 && a.beta <= 1):
		return nil, fmt.Errorf("%w: --beta %g outside [0, 1]", ErrUsage, a.beta)
	case a.scope != string(adi.ScopePerLayer) && a.scope != string(adi.ScopeAll):
		return nil, fmt.Errorf("%w: --mask-scope must be layer or all", ErrUsage)
	case a.negatives < 1:
		return nil, fmt.Errorf("%w: --negatives must be at least 1", ErrUsage)
	case !(a.strength > 0 && a.strength <= 1):
		return nil, fmt.Errorf("%w: --contrast-strength %g outside (0, 1]", ErrUsage, a.strength)
	case a.fit != string(adi.FitCrop) && a.fit != string(adi.FitPad):
		return nil, fmt.Errorf("%w: --fit must be crop or pad", ErrUsage)
	case a.exportA1111 != "" && m != adi.MethodTI:
		return nil, fmt.Errorf("%w: --export-a1111 needs --method ti (layer-wise identifiers have no such layout)", ErrUsage)
	}
	a.method = string(m)
	if a.trigger, err = placeholder.For(a.name); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if a.out == "" {
		a.out = strings.Trim(a.trigger, "<>") + ".safetensors"
	}
	if a.checkpoint == "" {
		a.checkpoint = strings.TrimSuffix(a.out, filepath.Ext(a.out)) + trainStateExt
	}
	return a, nil
}

// trainOptions turns the flags into adi.Options.
func (a *trainArgs) trainOptions() adi.Options {
	wd := a.weightDecay
	if wd == 0 {
		wd = -1 // AdamWConfig reads 0 as "default"; the flag's 0 means none
	}
	return adi.Options{
		Method: adi.Method(a.method), Name: a.name, InitWord: a.initWord, Steps: a.steps,
		BatchSize: a.batch, GradAccum: a.accum, Seed: a.seed,
		AdamW:           adi.AdamWConfig{LR: a.lr, WeightDecay: wd, Lazy: a.lazyAdam},
		Mask:            adi.MaskConfig{Beta: a.beta, Scope: adi.QuantileScope(a.scope)},
		Contrast:        adi.ContrastOptions{PerExemplar: a.negatives, Strength: a.strength},
		Fit:             adi.FitMode(a.fit),
		NoFlip:          a.noFlip,
		Caption:         a.caption,
		CheckpointPath:  a.checkpoint,
		CheckpointEvery: a.ckptEvery,
		Resume:          a.resume,
		PreviewEvery:    a.previewEvery,
	}
}

func runTrain(ctx context.Context, env Env, args []string) error {
	a, err := parseTrainArgs(env, args)
	if err != nil {
		return err
	}
	if a.model, err = modelOrBuiltin(a.model); err != nil {
		return err
	}
	// Cheap checks first, before loading a model: the output folders can
	// be written, the photos read.
	previewDir := a.previewDir
	if previewDir == "" {
		previewDir = filepath.Dir(a.out)
	}
	if err := ensureDirsOf(a.out, a.checkpoint, a.exportA1111); err != nil {
		return err
	}
	if a.previewEvery > 0 {
		if err := ensureDir(previewDir); err != nil {
			return err
		}
	}
	exemplars, files, err := folderExemplars(a.images)
	if err != nil {
		return err
	}
	opts := a.trainOptions()
	if len(a.contrast) > 0 {
		if opts.Contrast.UserImages, err = contrastPhotos(a.contrast, files); err != nil {
			return err
		}
	}
	libDir, err := store.DefaultDir()
	if err != nil {
		return err
	}
	opts.Contrast.CacheDir = contrastCacheDir(libDir)
	if a.initFrom != "" {
		if opts.Init, err = adi.Load(a.initFrom); err != nil {
			return err
		}
	}
	be, err := OpenBackend(a.backend, env.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "loading %s\n", a.model)
	// As kata generate: half-precision weights stay as stored where the
	// backend can widen them (the gradient only reaches the identifier
	// vectors, so the frozen weights need no float32 copy: half the weights'
	// memory), loaded straight into the backend; KATA_WEIGHTS=f32 restores
	// float32 weights.
	precision := sd.PrecisionF32
	if backend.SupportsHalf(be) {
		precision = sd.PrecisionStored
	}
	m, err := sd.Load(a.model, &sd.LoadOptions{ConfigDir: a.config, Precision: precision, Backend: be})
	if err != nil {
		return err
	}
	if opts.Init != nil {
		w, err := adi.CheckCompat(opts.Init, m.Text.HiddenSize, m.UNet.NumCrossAttentionLayers(), m.SHA256)
		if err != nil {
			return fmt.Errorf("--init-from %s: %w", a.initFrom, err)
		}
		if w != "" {
			fmt.Fprintln(env.Stderr, "warning:", w)
		}
	}
	base, err := adi.NewBase(be, m, adi.BaseOptions{PreviewSteps: previewSteps, PreviewPrompt: placeholder.DefaultCaption, PreviewSeed: a.seed})
	if err != nil {
		return err
	}
	var bar *progress
	var lastMsg string
	var evErr error
	onEvent := func(e adi.Event) {
		switch e.Kind {
		case adi.EventPrepare:
			if e.Message != lastMsg {
				fmt.Fprintln(env.Stderr, e.Message)
				lastMsg = e.Message
			}
		case adi.EventStep:
			if bar == nil {
				bar = newProgress(env.Stderr, e.Steps, "training")
			}
			bar.Describe(fmt.Sprintf("training, loss %.4f", e.Smoothed))
			bar.Set(e.Step)
		case adi.EventPreview:
			p := filepath.Join(previewDir, fmt.Sprintf("%s-preview-%05d.png", strings.Trim(a.trigger, "<>"), e.Step))
			if err := writePNG(p, e.Preview, previewSettings(a, m, e.Step)); err != nil && evErr == nil {
				evErr = err
			}
		}
	}
	stopWatch := backend.Watch(ctx, be) // a cancellation stops inside a step
	id, err := adi.Train(ctx, base, exemplars, opts, onEvent)
	stopWatch()
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(env.Stderr, "stopped; continue with --resume (checkpoint %s)\n", a.checkpoint)
		}
		return err
	}
	if evErr != nil {
		fmt.Fprintln(env.Stderr, "warning: preview:", evErr)
	}
	if err := adi.Save(a.out, id); err != nil {
		return err
	}
	if a.exportA1111 != "" {
		if err := adi.ExportA1111(a.exportA1111, id); err != nil {
			return err
		}
	}
	// The finished identifier supersedes the run's checkpoint.
	if err := os.Remove(a.checkpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(env.Stderr, "warning:", err)
	}
	fmt.Fprintf(env.Stdout, "%s (%s, %s, %d steps)\n", a.out, id.Trigger, id.Method, id.Steps)
	return nil
}

// previewSteps is the sampler step count of training previews (the
// pipeline's default sampler and guidance apply).
const previewSteps = sd.DefaultSteps

// previewSettings describes a training preview as generation settings, so
// the PNG says how it was made.
func previewSettings(a *trainArgs, m *sd.Model, step int) imagemeta.Settings {
	trigger := a.trigger
	size := m.NativeSize()
	return imagemeta.Settings{
		Prompt: placeholder.Fill(placeholder.DefaultCaption, trigger), Steps: previewSteps, Sampler: scheduler.DisplayName(sd.DefaultSampler),
		CFG: sd.DefaultCFG, Seed: int64(a.seed), Width: size, Height: size, Model: modelName(a.model), ModelHash: m.InfotextHash(),
		Identifiers: []string{trigger}, Extra: map[string]string{"Training step": fmt.Sprint(step), "Method": a.method},
	}
}
