package app

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"kata/assets"
	"kata/model/adi"
	"kata/model/sd"
	"kata/model/world/bench"
	"kata/model/world/judge"
)

func init() {
	benchGroup.add(subcommand{
		Name:    "actions",
		Summary: "train TI, P+ and ADI on Kata World exemplar sets, generate other subjects doing the actions, judge them",
		Run:     runBenchActions,
	})
}

// benchActionsArgs are the parsed flags of `kata bench actions`.
type benchActionsArgs struct {
	model, judges, out, backend string
	opts                        bench.Options
	args                        []string // as given, for report.txt
}

func parseBenchActionsArgs(env Env, args []string) (*benchActionsArgs, error) {
	fs := NewFlagSet(env, "bench actions", "[--quick] [--model PATH] [--judges FILE] [--out DIR] [flags]")
	a := &benchActionsArgs{args: args}
	quick := fs.Bool("quick", false, "plumbing check: 1 action, 2 subjects, 2 steps, 1 image each, 4 exemplars (other flags still apply)")
	seed := fs.Uint64("seed", 0, "seed of exemplar sets, training and images")
	actions := fs.String("actions", "", "comma-separated benchmark actions (default all 8: "+strings.Join(defaultActions(), ",")+")")
	subjects := fs.String("subjects", "", `comma-separated "colour kind" subjects (default `+subjectList(bench.DefaultSubjects)+`)`)
	methods := fs.String("methods", "", "comma-separated methods among prompt,ti,p+,adi (default all)")
	steps := fs.Int("steps", adi.DefaultSteps, "optimiser steps per identifier")
	images := fs.Int("images", bench.DefaultImages, "images per subject, action and method (K)")
	sampleSteps := fs.Int("sample-steps", sd.DefaultSteps, "sampler steps per image")
	exemplars := fs.Int("exemplars", 0, "pictures per exemplar set (default 10, ActionBench's)")
	lr := fs.Float64("lr", 0, "AdamW learning rate (default 5e-3 for adi/p+, 5e-4 for ti)")
	lazy := fs.Bool("lazy-adam", false, "AdamW leaves entries with a zero gradient (those ADI's masks drop) as they are for the step")
	mask := adi.DefaultMaskConfig()
	beta := fs.Float64("beta", mask.Beta, "adi: gradient-mask quantile in [0, 1]")
	scope := fs.String("mask-scope", string(mask.Scope), "adi: mask quantiles per layer token (layer) or over all vectors (all)")
	negatives := fs.Int("negatives", adi.DefaultContrastPerExemplar, "adi: synthesised contrast images per exemplar")
	strength := fs.Float64("strength", adi.DefaultContrastStrength, "adi: image-to-image strength of contrast images, in (0, 1]")
	fs.StringVar(&a.opts.Variant, "variant", "", "label of this setting in the table, the CSV and report.txt (e.g. beta-0.3)")
	fs.StringVar(&a.model, "model", "", "Stable Diffusion 1.x model (diffusers folder or .safetensors); default the built-in Kata World model")
	fs.StringVar(&a.judges, "judges", "", "judges weight file (default the shipped judges, assets/judges)")
	fs.StringVar(&a.out, "out", "bench-actions", "folder for report.txt, verdicts.csv and one contact sheet per method, and cache/ to resume a killed run; must hold no finished run")
	fs.StringVar(&a.backend, "backend", "", backendFlagUsage)
	if err := ParseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o := bench.Options{}
	if *quick {
		o = bench.Quick()
	}
	o.Variant = a.opts.Variant
	o.Seed = *seed
	var err error
	if *actions != "" {
		o.Actions = splitList(*actions)
	}
	if *subjects != "" {
		if o.Subjects, err = parseSubjects(*subjects); err != nil {
			return nil, fmt.Errorf("%w: --subjects: %v", ErrUsage, err)
		}
	}
	if *methods != "" {
		o.Methods = nil
		for _, s := range splitList(*methods) {
			m, err := bench.ParseMethod(s)
			if err != nil {
				return nil, fmt.Errorf("%w: --methods: %v", ErrUsage, err)
			}
			o.Methods = append(o.Methods, m)
		}
	}
	// Flags given override --quick's settings; defaults do not.
	for _, f := range []struct {
		name string
		v    int
		dst  *int
	}{{"steps", *steps, &o.Steps}, {"images", *images, &o.Images}, {"sample-steps", *sampleSteps, &o.SampleSteps}, {"exemplars", *exemplars, &o.Exemplars}} {
		if set[f.name] && f.v < 1 {
			return nil, fmt.Errorf("%w: --%s must be at least 1", ErrUsage, f.name)
		}
		if set[f.name] || *f.dst == 0 {
			*f.dst = f.v
		}
	}
	switch {
	case *lr < 0:
		return nil, fmt.Errorf("%w: --lr must not be negative", ErrUsage)
	case !(*beta >= 0 && *beta <= 1):
		return nil, fmt.Errorf("%w: --beta %g outside [0, 1]", ErrUsage, *beta)
	case *scope != string(adi.ScopePerLayer) && *scope != string(adi.ScopeAll):
		return nil, fmt.Errorf("%w: --mask-scope must be layer or all", ErrUsage)
	case *negatives < 1:
		return nil, fmt.Errorf("%w: --negatives must be at least 1", ErrUsage)
	case !(*strength > 0 && *strength <= 1):
		return nil, fmt.Errorf("%w: --strength %g outside (0, 1]", ErrUsage, *strength)
	}
	o.Train = adi.Options{AdamW: adi.AdamWConfig{LR: *lr, Lazy: *lazy}, Mask: adi.MaskConfig{Beta: *beta, Scope: adi.QuantileScope(*scope)},
		Contrast: adi.ContrastOptions{PerExemplar: *negatives, Strength: *strength}}
	if a.opts, err = o.WithDefaults(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if a.out == "" {
		return nil, fmt.Errorf("%w: --out must name a folder", ErrUsage)
	}
	return a, nil
}

func defaultActions() []string {
	o, _ := bench.Options{}.WithDefaults()
	return o.Actions
}

// splitList splits a comma-separated flag value, trimming spaces and
// dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseSubjects(s string) ([]bench.Subject, error) {
	var out []bench.Subject
	for _, f := range splitList(s) {
		sub, err := bench.ParseSubject(f)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, nil
}

func subjectList(subs []bench.Subject) string {
	names := make([]string, len(subs))
	for i, s := range subs {
		names[i] = s.String()
	}
	return strings.Join(names, ",")
}

func runBenchActions(ctx context.Context, env Env, args []string) error {
	a, err := parseBenchActionsArgs(env, args)
	if err != nil {
		return err
	}
	// Cheap checks before any loading: where the results go, what runs.
	if a.model, err = modelOrBuiltin(a.model); err != nil {
		return err
	}
	if err := prepareBenchDir(a.out); err != nil {
		return err
	}
	be, err := OpenBackend(a.backend, env.Stderr)
	if err != nil {
		return err
	}
	var j *judge.Judges
	if a.judges == "" {
		j, err = judge.Load(be, assets.Judges)
	} else {
		j, err = judge.LoadFile(be, a.judges)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "loading %s\n", a.model)
	m, err := sd.Load(a.model, nil)
	if err != nil {
		return err
	}
	defer m.Finalize()
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		return err
	}
	defer p.Finalize()
	base, err := adi.NewBase(be, m, adi.BaseOptions{Pipeline: p})
	if err != nil {
		return err
	}
	cacheDir := filepath.Join(a.out, BenchCacheDir)
	if _, err := os.Stat(cacheDir); err == nil {
		fmt.Fprintf(env.Stderr, "resuming: reusing the finished work kept in %s\n", cacheDir)
	}
	rep := newBenchReporter(env.Stderr)
	res, err := bench.Run(ctx, bench.Runner{Base: base, Pipeline: p, Judges: j, CacheDir: cacheDir}, a.opts, rep.report)
	rep.finish()
	if err != nil {
		return err
	}
	return writeBenchResult(ctx, env, a, m.Hash, res)
}
