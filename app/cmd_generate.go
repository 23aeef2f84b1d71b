package app

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"image"
	_ "image/jpeg" // init images may be JPEG
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/store/atomicfile"
	"kata/store/imagemeta"
)

func init() {
	Register(Command{
		Name:    "generate",
		Summary: "make an image from a prompt with a Stable Diffusion 1.x model",
		Run:     runGenerate,
	})
}

// generateArgs are the parsed flags of `kata generate`.
type generateArgs struct {
	model, config, prompt, negative, sampler, init, out, backend string
	steps, width, height, clipSkip                               int
	cfg, strength                                                float64
	seed                                                         int64
	identifiers                                                  listFlag
}

func parseGenerateArgs(env Env, args []string) (*generateArgs, error) {
	fs := NewFlagSet(env, "generate", "--model PATH --prompt TEXT [flags]")
	a := &generateArgs{}
	fs.StringVar(&a.model, "model", "", "diffusers folder or single-file .safetensors checkpoint (required)")
	fs.StringVar(&a.config, "config", "", "diffusers folder whose configs describe a single-file --model (default: inferred, SD 1.x)")
	fs.StringVar(&a.prompt, "prompt", "", "what to draw")
	fs.StringVar(&a.negative, "negative", "", "what to avoid (negative prompt)")
	fs.IntVar(&a.steps, "steps", sd.DefaultSteps, "sampling steps")
	fs.StringVar(&a.sampler, "sampler", DefaultSampler,
		"sampler: "+strings.Join(scheduler.Names(), ", ")+` (AUTOMATIC1111 names such as "Euler a" also work)`)
	fs.Float64Var(&a.cfg, "cfg", sd.DefaultCFG, "classifier-free guidance scale (1 disables guidance)")
	fs.Int64Var(&a.seed, "seed", -1, "random seed; -1 picks one (printed and stored in the PNG)")
	fs.IntVar(&a.width, "width", 0, "image width, a multiple of 8 (default: the model's native size)")
	fs.IntVar(&a.height, "height", 0, "image height, a multiple of 8 (default: the model's native size)")
	fs.IntVar(&a.clipSkip, "clip-skip", 1, "AUTOMATIC1111's Clip skip: stop the text encoder this many layers from the end (1: none)")
	fs.StringVar(&a.init, "init", "", "init image (PNG or JPEG) for image-to-image")
	fs.Float64Var(&a.strength, "strength", sd.DefaultStrength, "image-to-image strength in (0, 1]: how much of the init image is repainted")
	fs.StringVar(&a.out, "out", "", "output PNG (default kata-SEED.png)")
	fs.Var(&a.identifiers, "identifier", "learned identifier file (.safetensors, repeatable); use its <trigger> in --prompt")
	fs.StringVar(&a.backend, "backend", "", "compute backend: auto, go, xla... (default $"+backend.EnvBackend+" or auto)")
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case a.model == "":
		return nil, fmt.Errorf("%w: --model is required", ErrUsage)
	case a.steps < 1 || a.steps > 1000:
		return nil, fmt.Errorf("%w: --steps %d outside 1..1000", ErrUsage, a.steps)
	case a.width < 0 || a.height < 0 || a.width%8 != 0 || a.height%8 != 0:
		return nil, fmt.Errorf("%w: --width and --height must be multiples of 8", ErrUsage)
	case a.init != "" && !(a.strength > 0 && a.strength <= 1):
		return nil, fmt.Errorf("%w: --strength %g outside (0, 1]", ErrUsage, a.strength)
	case a.clipSkip < 1:
		return nil, fmt.Errorf("%w: --clip-skip must be >= 1", ErrUsage)
	case a.seed < -1:
		return nil, fmt.Errorf("%w: --seed must be >= 0, or -1 for a random seed", ErrUsage)
	}
	if _, ok := scheduler.CanonicalName(a.sampler); !ok {
		return nil, fmt.Errorf("%w: unknown --sampler %q (known: %s)", ErrUsage, a.sampler, strings.Join(scheduler.Names(), ", "))
	}
	return a, nil
}

func runGenerate(ctx context.Context, env Env, args []string) error {
	a, err := parseGenerateArgs(env, args)
	if err != nil {
		return err
	}
	if a.seed == -1 {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return fmt.Errorf("pick a seed: %w", err)
		}
		// A1111 seeds are non-negative and fit 32 bits; keep ours readable too.
		a.seed = int64(binary.LittleEndian.Uint32(b[:]))
	}
	if a.out == "" {
		a.out = fmt.Sprintf("kata-%d.png", a.seed)
	}
	if err := ensureDirsOf(a.out); err != nil {
		return err
	}
	var initImage image.Image
	if a.init != "" {
		if initImage, err = readImage(a.init); err != nil {
			return err
		}
	}

	be, err := backend.New(a.backend)
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	var loadBar *progress
	m, err := sd.Load(a.model, &sd.LoadOptions{ConfigDir: a.config, Progress: func(done, total int) {
		if loadBar == nil {
			loadBar = newProgress(env.Stderr, total, "loading "+modelName(a.model))
		}
		loadBar.Set(done)
	}})
	if loadBar != nil {
		loadBar.Finish()
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		return err
	}
	opts := sd.GenerateOptions{
		Prompt: a.prompt, Negative: a.negative, Steps: a.steps, Sampler: a.sampler, CFG: a.cfg,
		Seed: uint64(a.seed), Width: a.width, Height: a.height, InitImage: initImage, ClipSkip: a.clipSkip,
	}
	if initImage != nil {
		opts.Strength = a.strength
	}
	// An unknown <placeholder> is an error even without --identifier: the
	// model would otherwise draw the literal word silently.
	set, warnings, err := adi.LoadIdentifiers(a.identifiers, m)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(env.Stderr, "warning:", w)
	}
	var bar *progress
	onStep := func(step, total int) {
		if bar == nil {
			bar = newProgress(env.Stderr, total, "sampling")
		}
		bar.Set(step)
	}
	gen := generation{opts: opts, set: set, modelName: modelName(a.model)}
	for i, id := range set.List() {
		l, err := identifierLabel(id.Trigger, a.identifiers[i])
		if err != nil {
			return err
		}
		gen.labels = append(gen.labels, l)
	}
	res, settings, err := gen.run(ctx, p, onStep)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := writePNG(a.out, res.Image, settings); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s (seed %d)\n", a.out, a.seed)
	return nil
}

// modelName is how A1111 names a model in "Model:": the file or folder name
// without extension.
func modelName(path string) string {
	base := filepath.Base(filepath.Clean(path))
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func readImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("init image: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("init image %s: %w", path, err)
	}
	return img, nil
}

// writePNG writes the image with its settings to path atomically, so an
// interrupted run never leaves a truncated PNG.
func writePNG(path string, img image.Image, s imagemeta.Settings) error {
	return atomicfile.Write(path, func(w io.Writer) error { return imagemeta.EncodePNG(w, img, s) })
}
