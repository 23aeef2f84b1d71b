package app

import (
	"context"
	"flag"
	"fmt"
	"image"
	"strconv"

	"github.com/disintegration/imaging"

	"github.com/gomlx/gomlx/backends"

	"kata/assets"
	"kata/model/backend"
	"kata/model/sd"
	"kata/model/world/bench"
	"kata/model/world/judge"
	"kata/model/worldmodel"
	"kata/store"
	"kata/store/atomicfile"
)

func init() {
	registerWorld(worldCommand{
		Name:    "eval",
		Summary: "judge the built-in model on held-out prompts: kind, colour and action right, pose shares",
		Run:     runWorldEval,
	})
	registerWorld(worldCommand{
		Name:    "grid",
		Summary: "draw a labelled grid of one prompt over consecutive seeds (default 4x4)",
		Run:     runWorldGrid,
	})
}

// worldSampling holds the flags world eval and world grid share: the model,
// the backend, how each image is sampled (the pipeline's defaults: 20 DDIM
// steps, CFG 7.5) and how much of the work runs at once.
type worldSampling struct {
	model, backend, sampler string
	steps, concurrent       int
	cfg                     float64
}

func (s *worldSampling) register(fs *flag.FlagSet) {
	fs.StringVar(&s.model, "model", "", "model (default the built-in Kata World model)")
	fs.IntVar(&s.steps, "steps", sd.DefaultSteps, "sampler steps per image")
	fs.StringVar(&s.sampler, "sampler", sd.DefaultSampler, "sampler")
	fs.Float64Var(&s.cfg, "cfg", sd.DefaultCFG, "classifier-free guidance scale")
	fs.StringVar(&s.backend, "backend", "", backendFlagUsage)
	fs.IntVar(&s.concurrent, "concurrent", 0, "work drawn at once: images, each by its own copy of the model (eval), or parts of each batch (grid) (default 2 on the pure-Go backend, whose executions run one node at a time; 1 on others)")
}

func (s *worldSampling) validate() error {
	switch {
	case s.steps < 1 || s.steps > 1000:
		return fmt.Errorf("%w: --steps %d outside 1..1000", ErrUsage, s.steps)
	case s.concurrent < 0 || s.concurrent > 8:
		return fmt.Errorf("%w: --concurrent %d outside 0..8", ErrUsage, s.concurrent)
	}
	return nil
}

// options are the generation options of one image.
func (s *worldSampling) options(prompt string, seed uint64) sd.GenerateOptions {
	return sd.GenerateOptions{Prompt: prompt, Seed: seed, Steps: s.steps, Sampler: s.sampler, CFG: s.cfg, Concurrent: s.concurrent}
}

// pipeline loads the model (default the built-in one) on the backend.
func (s *worldSampling) pipeline(env Env) (*sd.Pipeline, backends.Backend, func(), error) {
	return worldPipeline(env, s.model, s.backend)
}

// pipelines loads the model once per image drawn at once (--concurrent)
// and returns them as a pool, how many it holds, and the backend. Each
// pipeline has its own copy of the model: GoMLX builds a graph by writing
// into the model's context, so two pipelines of one model cannot compile at
// the same time.
func (s *worldSampling) pipelines(env Env) (pool chan *sd.Pipeline, width int, be backends.Backend, done func(), err error) {
	p, be, first, err := s.pipeline(env)
	if err != nil {
		return nil, 0, nil, nil, err
	}
	dones := []func(){first}
	done = func() {
		for _, d := range dones {
			d()
		}
	}
	width = s.concurrent
	if width == 0 {
		width = 1
		if backend.PureGo(be) {
			width = 2
		}
	}
	pool = make(chan *sd.Pipeline, width)
	pool <- p
	for range width - 1 {
		q, qdone, err := loadPipeline(env, s.model, be)
		if err != nil {
			done()
			return nil, 0, nil, nil, err
		}
		dones = append(dones, qdone)
		pool <- q
	}
	return pool, width, be, done, nil
}

// worldPipeline loads model (default the built-in one) on backend name.
func worldPipeline(env Env, model, name string) (*sd.Pipeline, backends.Backend, func(), error) {
	be, err := OpenBackend(name, env.Stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	p, done, err := loadPipeline(env, model, be)
	return p, be, done, err
}

// loadPipeline loads model (default the built-in one) on be.
func loadPipeline(env Env, model string, be backends.Backend) (*sd.Pipeline, func(), error) {
	model, err := modelOrBuiltin(model)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(env.Stderr, "loading %s\n", model)
	m, err := sd.Load(model, nil)
	if err != nil {
		return nil, nil, err
	}
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		m.Finalize()
		return nil, nil, err
	}
	return p, func() { p.Finalize(); m.Finalize() }, nil
}

func runWorldEval(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world eval", "[--model PATH] [--n 200] [--free 160] [flags]")
	var sampling worldSampling
	sampling.register(fs)
	n := fs.Int("n", 200, "prompts naming a kind, a colour, a common action and a background")
	free := fs.Int("free", 160, "prompts naming no action (their images give the pose shares)")
	seed := fs.Uint64("seed", 1, "seed of the held-out prompts (sampler seeds start at "+strconv.FormatUint(worldmodel.EvalSeedBase, 10)+")")
	sheet := fs.String("sheet", "", "also write a contact sheet PNG of the named prompts' images with the judges' verdicts")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case *n < 0 || *free < 0 || *n+*free == 0 || *n+*free > 10000:
		return fmt.Errorf("%w: --n and --free must be >= 0 with 1..10000 in all", ErrUsage)
	}
	if err := sampling.validate(); err != nil {
		return err
	}
	pool, width, b, done, err := sampling.pipelines(env)
	if err != nil {
		return err
	}
	defer done()
	j, err := judge.Load(b, assets.Judges)
	if err != nil {
		return err
	}
	named, unnamed := worldmodel.EvalPrompts(*seed, *n, *free)
	gen := func(ctx context.Context, e worldmodel.EvalPrompt) (image.Image, error) {
		q := <-pool
		defer func() { pool <- q }()
		// The images drawn at once keep the cores busy: each runs its
		// step as one execution.
		o := sampling.options(e.Prompt, e.Seed)
		o.Concurrent = 1
		r, err := q.Generate(ctx, o)
		if err != nil {
			return nil, err
		}
		return r.Image, nil
	}
	bar := newProgress(env.Stderr, len(named)+len(unnamed), "world eval")
	rep, err := worldmodel.Evaluate(ctx, gen, width, j, named, unnamed, func(done, _ int) { bar.Set(done) })
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "kata world eval: seed %d, %d %s steps, CFG %g\n", *seed, sampling.steps, sampling.sampler, sampling.cfg)
	if err := rep.Format(env.Stdout); err != nil {
		return err
	}
	if *sheet == "" {
		return nil
	}
	return writeEvalSheet(ctx, *sheet, named, rep)
}

// writeEvalSheet lays the named prompts' images out 10 to a row, each
// marked as the benchmark's sheets are (left strip: action, right strip:
// kind and colour; green right, red wrong).
func writeEvalSheet(ctx context.Context, path string, named []worldmodel.EvalPrompt, rep *worldmodel.EvalReport) error {
	images := rep.Images
	const perRow = 10
	rows := make([]string, (len(images)+perRow-1)/perRow)
	for i := range rows {
		rows[i] = strconv.Itoa(i*perRow + 1)
	}
	cols := make([]string, min(perRow, len(images)))
	for i := range cols {
		cols[i] = strconv.Itoa(i + 1)
	}
	sheet, err := store.DrawSheet(ctx, rows, cols, benchSheetCell, func(r, c int) (image.Image, error) {
		i := r*perRow + c
		if i >= len(images) {
			return nil, nil
		}
		v, s := rep.Verdicts[i], named[i].Scene
		return markVerdict(imaging.Clone(images[i]), bench.Verdict{Action: s.Action, Subject: bench.Subject{Kind: s.Kind, Color: s.Color},
			SeenAction: v.Action, SeenKind: v.Kind, SeenColor: v.Color}), nil
	})
	if err != nil {
		return err
	}
	data, err := store.EncodePNG(sheet)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, data)
}

// gridBatch is the most images `kata world grid` draws in one batch: a 4x4
// grid at once.
const gridBatch = 16

func runWorldGrid(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world grid", "--prompt TEXT --out FILE.png [--model PATH] [--seed N] [flags]")
	var sampling worldSampling
	sampling.register(fs)
	prompt := fs.String("prompt", "", "prompt (required)")
	out := fs.String("out", "", "PNG to write (required)")
	seed := fs.Uint64("seed", 1, "seed of the first image; the others follow it")
	side := fs.Int("side", 4, "images per row and column")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case *prompt == "" || *out == "":
		return fmt.Errorf("%w: --prompt and --out are required", ErrUsage)
	case *side < 1 || *side > 16:
		return fmt.Errorf("%w: --side %d outside 1..16", ErrUsage, *side)
	}
	if err := sampling.validate(); err != nil {
		return err
	}
	p, _, done, err := sampling.pipeline(env)
	if err != nil {
		return err
	}
	defer done()
	labels := make([]string, *side)
	images := make([]image.Image, *side**side)
	bar := newProgress(env.Stderr, len(images), "world grid")
	// Whole rows a batch, up to gridBatch images: the UNet runs once per
	// step on the batch's images (in parts at once, --concurrent).
	rowsPer := max(1, gridBatch / *side)
	for row := 0; row < *side; row += rowsPer {
		seeds := make([]uint64, min(rowsPer, *side-row)**side)
		for i := range seeds {
			seeds[i] = *seed + uint64(row**side+i)
		}
		rs, err := p.GenerateBatch(ctx, sampling.options(*prompt, 0), seeds)
		if err != nil {
			return err
		}
		for i, r := range rs {
			images[row**side+i] = r.Image
		}
		bar.Set(row**side + len(rs))
	}
	bar.Finish()
	for i := range labels {
		labels[i] = strconv.Itoa(i + 1)
	}
	rows := make([]string, *side)
	for i := range rows {
		rows[i] = "seed " + strconv.FormatUint(*seed+uint64(i**side), 10)
	}
	sheet, err := store.DrawSheet(ctx, rows, labels, benchSheetCell, func(r, c int) (image.Image, error) {
		return images[r**side+c], nil
	})
	if err != nil {
		return err
	}
	data, err := store.EncodePNG(sheet)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(*out, data)
}
