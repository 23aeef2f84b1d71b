package app

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"kata/model/world"
	"kata/store"
	"kata/store/actionfolder"
	"kata/store/atomicfile"
)

func init() {
	registerWorld(worldCommand{
		Name:    "render",
		Summary: "write an ActionBench-style exemplar set of one action (NN.png, NN.txt, text.json)",
		Run:     runWorldRender,
	})
	registerWorld(worldCommand{
		Name:    "sheet",
		Summary: "write a labelled contact sheet PNG: every subject kind x every action",
		Run:     runWorldSheet,
	})
}

// maxRenderSize bounds --size and --cell: the world is drawn for 64-128
// pixels, and larger only costs memory.
const maxRenderSize = 1024

func runWorldRender(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world render", "--action ACTION --out DIR [--seed N] [--size PX] [--n N] [--force]\n\n"+
		"Actions: "+strings.Join(world.Actions(), ", ")+".\n")
	action := fs.String("action", "", "action to render (required)")
	out := fs.String("out", "", "folder to write the set into, created when missing (required)")
	seed := fs.Uint64("seed", 1, "seed of the set: the same seed writes the same pictures")
	size := fs.Int("size", 128, "picture side in pixels")
	n := fs.Int("n", world.ExemplarCount, "number of pictures")
	force := fs.Bool("force", false, "write into a folder that is not empty (files of the same names are replaced)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case *action == "" || *out == "":
		return fmt.Errorf("%w: --action and --out are required", ErrUsage)
	case !slices.Contains(world.Actions(), *action):
		return fmt.Errorf("%w: unknown action %q (want one of %s)", ErrUsage, *action, strings.Join(world.Actions(), ", "))
	case *size < world.MinSize || *size > maxRenderSize:
		return fmt.Errorf("%w: --size %d outside %d..%d", ErrUsage, *size, world.MinSize, maxRenderSize)
	case *n < 1 || *n > 99:
		return fmt.Errorf("%w: --n %d outside 1..99", ErrUsage, *n)
	}
	set, err := world.ExemplarSet(*action, *seed, *n)
	if err != nil {
		return err
	}
	if err := prepareOutDir(*out, *force); err != nil {
		return err
	}
	if err := writeExemplarSet(ctx, *out, set, *size); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %d pictures of %s (%dx%d, seed %d) with NN.txt and text.json to %s\n",
		len(set), *action, *size, *size, *seed, *out)
	return nil
}

// prepareOutDir creates dir, or checks that it is empty unless force is set.
func prepareOutDir(dir string, force bool) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return os.MkdirAll(dir, 0o755)
	case err != nil:
		return err
	case len(ents) > 0 && !force:
		return fmt.Errorf("folder %s is not empty (--force writes into it)", dir)
	}
	return nil
}

// writeExemplarSet renders set at size and writes each picture, its NN.txt
// and the folder's text.json into dir, each file atomically.
func writeExemplarSet(ctx context.Context, dir string, set []world.Exemplar, size int) error {
	for _, e := range set {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := store.EncodePNG(world.Render(e.Scene, size))
		if err != nil {
			return fmt.Errorf("encode %s: %w", e.Name, err)
		}
		if err := atomicfile.WriteBytes(filepath.Join(dir, e.Name), data); err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(filepath.Join(dir, e.TextName()), []byte(e.Caption+"\n")); err != nil {
			return err
		}
	}
	text, err := world.TextJSON(set)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, actionfolder.TextJSON), text)
}

func runWorldSheet(_ context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world sheet", "--out FILE.png [--cell PX] [--seed N] [--random] [--kinds K,...] [--actions A,...]")
	out := fs.String("out", "", "PNG file to write (required)")
	cell := fs.Int("cell", 64, "side of one render in pixels")
	seed := fs.Uint64("seed", 1, "pose jitter seed; with --random, also the scenes' seed")
	random := fs.Bool("random", false, "give every cell a random colour, clothing, background and prop instead of plain white")
	kinds := fs.String("kinds", "", "comma-separated rows (default every kind: "+strings.Join(world.Kinds, ",")+")")
	actions := fs.String("actions", "", "comma-separated columns (default every action)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case *out == "":
		return fmt.Errorf("%w: --out is required", ErrUsage)
	case *cell < world.MinSize || *cell > maxRenderSize:
		return fmt.Errorf("%w: --cell %d outside %d..%d", ErrUsage, *cell, world.MinSize, maxRenderSize)
	}
	opt := world.SheetOptions{Cell: *cell, Seed: *seed}
	var err error
	if opt.Kinds, err = listOf(*kinds, "kind", world.Kinds); err != nil {
		return err
	}
	if opt.Actions, err = listOf(*actions, "action", world.Actions()); err != nil {
		return err
	}
	if *random {
		rng := rand.New(rand.NewPCG(*seed, 0x73686565))
		opt.Scene = func(int, int) world.Scene { return world.RandomScene(rng) }
	}
	sheet, err := world.Sheet(opt)
	if err != nil {
		return err
	}
	if err := writeAtomicWith(*out, func(w io.Writer) error { return png.Encode(w, sheet) }); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "contact sheet %dx%d written to %s\n", sheet.Bounds().Dx(), sheet.Bounds().Dy(), *out)
	return nil
}

// listOf parses a comma-separated flag of names from known; "" gives nil
// (the default).
func listOf(flagValue, what string, known []string) ([]string, error) {
	if flagValue == "" {
		return nil, nil
	}
	var out []string
	for _, v := range strings.Split(flagValue, ",") {
		v = strings.TrimSpace(v)
		if !slices.Contains(known, v) {
			return nil, fmt.Errorf("%w: unknown %s %q (want one of %s)", ErrUsage, what, v, strings.Join(known, ", "))
		}
		out = append(out, v)
	}
	return out, nil
}
