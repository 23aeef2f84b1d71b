package app

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/store"
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
	scheduleType, vae, loraDir                                   string
	steps, width, height, clipSkip, batch                        int
	cfg, strength                                                float64
	seed                                                         int64
	identifiers, loraArgs                                        listFlag
	loras                                                        []LoRAFile
}

func parseGenerateArgs(env Env, args []string) (*generateArgs, error) {
	fs := NewFlagSet(env, "generate", "--model PATH --prompt TEXT [flags]")
	a := &generateArgs{}
	fs.StringVar(&a.model, "model", "", "diffusers folder or single-file .safetensors checkpoint (default the built-in Kata World model)")
	fs.StringVar(&a.config, "config", "", "diffusers folder whose configs describe a single-file --model (default: inferred, SD 1.x)")
	fs.StringVar(&a.prompt, "prompt", "", "what to draw")
	fs.StringVar(&a.negative, "negative", "", "what to avoid (negative prompt)")
	fs.IntVar(&a.steps, "steps", sd.DefaultSteps, "sampling steps")
	fs.StringVar(&a.sampler, "sampler", scheduler.Default,
		"sampler: "+strings.Join(scheduler.Names(), ", ")+` (AUTOMATIC1111 names such as "Euler a" also work)`)
	fs.StringVar(&a.scheduleType, "schedule-type", "", "AUTOMATIC1111's Schedule type: "+scheduleTypeList()+
		" (default Automatic; other schedules for the k-diffusion samplers only)")
	fs.Float64Var(&a.cfg, "cfg", sd.DefaultCFG, "classifier-free guidance scale (1 disables guidance)")
	fs.Int64Var(&a.seed, "seed", -1, "random seed; -1 picks one (printed and stored in the PNG)")
	fs.IntVar(&a.width, "width", 0, "image width, a multiple of 8 (default: the model's native size)")
	fs.IntVar(&a.height, "height", 0, "image height, a multiple of 8 (default: the model's native size)")
	fs.IntVar(&a.clipSkip, "clip-skip", 1, "AUTOMATIC1111's Clip skip: stop the text encoder this many layers from the end (1: none)")
	fs.StringVar(&a.init, "init", "", "init image (PNG or JPEG) for image-to-image")
	fs.Float64Var(&a.strength, "strength", sd.DefaultStrength, "image-to-image strength in (0, 1]: how much of the init image is repainted")
	fs.StringVar(&a.out, "out", "", "output PNG (default kata-SEED.png)")
	fs.IntVar(&a.batch, "batch", 1, "images to make, with seeds SEED, SEED+1, ... as AUTOMATIC1111's batch count (--out gets -SEED before .png when above 1)")
	fs.StringVar(&a.vae, "vae", "", "VAE to decode with: a single-file VAE (.safetensors, e.g. vae-ft-mse-840000-ema-pruned) or a diffusers vae folder (default: the checkpoint's)")
	fs.Var(&a.loraArgs, "lora", "LoRA file to apply, FILE or FILE:WEIGHT (default weight 1; repeatable); <lora:name:w> in --prompt also works")
	fs.StringVar(&a.loraDir, "lora-dir", "", "folder where <lora:name:w> prompt tags find name.safetensors (default $"+EnvLoRADir+")")
	fs.Var(&a.identifiers, "identifier", "learned identifier file (.safetensors, repeatable); use its <trigger> in --prompt")
	fs.StringVar(&a.backend, "backend", "", backendFlagUsage)
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
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
	case a.batch < 1 || a.batch > 1000:
		return nil, fmt.Errorf("%w: --batch %d outside 1..1000", ErrUsage, a.batch)
	}
	if _, ok := scheduler.CanonicalName(a.sampler); !ok {
		return nil, fmt.Errorf("%w: unknown --sampler %q (known: %s)", ErrUsage, a.sampler, strings.Join(scheduler.Names(), ", "))
	}
	if _, ok := scheduler.CanonicalSchedule(a.scheduleType); !ok {
		return nil, fmt.Errorf("%w: unknown --schedule-type %q (known: %s)", ErrUsage, a.scheduleType, scheduleTypeList())
	}
	// Building the sampler on SD 1.x's schedule checks the pair (DDIM takes no Karras).
	if _, err := scheduler.NewScheduled(a.sampler, a.scheduleType, scheduler.DefaultConfig(), a.steps); err != nil {
		return nil, fmt.Errorf("%w: --sampler %q with --schedule-type %q: %v", ErrUsage, a.sampler, a.scheduleType, err)
	}
	for _, l := range a.loraArgs {
		f, err := ParseLoRAFile(l)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUsage, err)
		}
		a.loras = append(a.loras, f)
	}
	return a, nil
}

func runGenerate(ctx context.Context, env Env, args []string) error {
	a, err := parseGenerateArgs(env, args)
	if err != nil {
		return err
	}
	if a.model, err = modelOrBuiltin(a.model); err != nil {
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
	outs := batchOutputs(a.out, a.seed, a.batch)
	for _, f := range a.loras {
		if _, err := os.Stat(f.Path); err != nil {
			return fmt.Errorf("--lora: %w", err)
		}
	}
	if err := ensureDirsOf(outs...); err != nil {
		return err
	}
	var initImage image.Image
	if a.init != "" {
		if initImage, err = readImage(a.init); err != nil {
			return err
		}
	}

	be, err := OpenBackend(a.backend, env.Stderr)
	if err != nil {
		return err
	}
	var loadBar *progress
	// Half-precision weights stay as stored (half the memory) where the
	// backend can widen them; KATA_WEIGHTS=f32 restores float32 weights.
	precision := sd.PrecisionF32
	if backend.SupportsHalf(be) {
		precision = sd.PrecisionStored
	}
	m, err := sd.Load(a.model, &sd.LoadOptions{ConfigDir: a.config, VAE: a.vae, Precision: precision, Backend: be, Progress: func(done, total int) {
		if loadBar == nil {
			loadBar = newProgress(env.Stderr, total, "loading "+modelName(a.model))
		}
		loadBar.Set(done)
	}})
	if loadBar != nil {
		loadBar.Finish()
	}
	if err != nil {
		return vaeHint(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		return err
	}
	opts := sd.GenerateOptions{
		Prompt: a.prompt, Negative: a.negative, Steps: a.steps, Sampler: a.sampler, ScheduleType: a.scheduleType, CFG: a.cfg,
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
	var loras loraState
	defer loras.restore()
	gen := generation{opts: opts, set: set, modelName: modelName(a.model), loras: &loras,
		loraDir: LoRADir(a.loraDir), loraFiles: a.loras, warn: func(w string) { fmt.Fprintln(env.Stderr, "warning:", w) }}
	for i, id := range set.List() {
		l, err := identifierLabel(id.Trigger, a.identifiers[i])
		if err != nil {
			return err
		}
		gen.labels = append(gen.labels, l)
	}
	// Batches of seedBatch images of consecutive seeds, one bar each.
	per := seedBatch(m)
	for first := 0; first < len(outs); first += per {
		n := min(per, len(outs)-first)
		seeds := make([]uint64, n)
		for i := range seeds {
			seeds[i] = uint64(a.seed) + uint64(first+i)
		}
		var bar *progress
		desc := "sampling"
		switch {
		case n > 1:
			desc = fmt.Sprintf("sampling %d-%d/%d", first+1, first+n, len(outs))
		case len(outs) > 1:
			desc = fmt.Sprintf("sampling %d/%d", first+1, len(outs))
		}
		onStep := func(step, total int) {
			if bar == nil {
				bar = newProgress(env.Stderr, total, desc)
			}
			bar.Set(step)
		}
		if first > 0 {
			gen.warn = nil // said once
		}
		results, settings, err := gen.run(ctx, p, seeds, onStep)
		if bar != nil {
			bar.Finish()
		}
		if err != nil {
			return err
		}
		for i, res := range results {
			out := outs[first+i]
			if err := writePNG(out, res.Image, settings[i]); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s (seed %d)\n", out, seeds[i])
		}
	}
	return nil
}

// batchOutputs names the PNGs of a batch of n images from seed: out (or
// kata-SEED.png) for one image; for more, kata-SEED.png each, or out with
// "-SEED" before its extension.
func batchOutputs(out string, seed int64, n int) []string {
	outs := make([]string, n)
	for i := range outs {
		s := seed + int64(i)
		switch {
		case out == "":
			outs[i] = fmt.Sprintf("kata-%d.png", s)
		case n == 1:
			outs[i] = out
		default:
			ext := filepath.Ext(out)
			outs[i] = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(out, ext), s, ext)
		}
	}
	return outs
}

// scheduleTypeList lists the schedule types' AUTOMATIC1111 labels for help
// and errors.
func scheduleTypeList() string {
	var labels []string
	for _, st := range scheduler.ScheduleTypes() {
		labels = append(labels, strconv.Quote(st.Label))
	}
	return strings.Join(labels, ", ")
}

// modelName is how A1111 names a model in "Model:": the file or folder name
// without extension.
func modelName(path string) string {
	base := filepath.Base(filepath.Clean(path))
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// readImage decodes an init image with the library's limits (size, pixels,
// formats, orientation, alpha flattened onto white), as import does.
func readImage(path string) (image.Image, error) {
	img, err := store.DecodeFile(path, store.DefaultLimits)
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
