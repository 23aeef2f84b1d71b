package app

import (
	"context"
	"fmt"
	"image"
	"strconv"
	"strings"

	"kata/model/worldmodel"
	"kata/store"
	"kata/store/atomicfile"
)

func init() {
	registerWorld(worldCommand{
		Name:    "probe",
		Summary: "does the model read its captions? noise-prediction loss with and without them, per timestep",
		Run:     runWorldProbe,
	})
}

func runWorldProbe(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world probe", "[--model PATH] [--n 8] [--seed N] [--timesteps 100,300,...] [--sheet FILE.png] [flags]")
	model := fs.String("model", "", "model (default the built-in Kata World model)")
	n := fs.Int("n", 8, "fresh world renders to noise and denoise (1..64)")
	seed := fs.Uint64("seed", 1, "seed of the renders and the noise")
	steps := fs.String("timesteps", joinInts(worldmodel.DefaultProbeTimesteps), "comma-separated training timesteps to measure")
	sheet := fs.String("sheet", "", "also write a PNG: the renders, then per timestep the one-step predictions with and without captions")
	be := fs.String("backend", "", backendFlagUsage)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	var ts []int
	for _, f := range splitList(*steps) {
		t, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("%w: --timesteps: %q is not a number", ErrUsage, f)
		}
		ts = append(ts, t)
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	case len(ts) == 0:
		return fmt.Errorf("%w: --timesteps is empty", ErrUsage)
	}
	p, b, done, err := worldPipeline(env, *model, *be)
	if err != nil {
		return err
	}
	defer done()
	rep, err := worldmodel.Probe(b, p.Model, *seed, *n, ts)
	if err != nil {
		return err
	}
	if err := rep.Format(env.Stdout); err != nil {
		return err
	}
	if *sheet == "" {
		return nil
	}
	return writeProbeSheet(ctx, *sheet, rep)
}

// writeProbeSheet lays the renders out in the first row and, below them,
// the one-step predictions at each timestep with the caption and with the
// empty prompt.
func writeProbeSheet(ctx context.Context, path string, rep *worldmodel.ProbeReport) error {
	rows := []string{"render"}
	for _, r := range rep.Rows {
		rows = append(rows, fmt.Sprintf("t=%d caption", r.Timestep), fmt.Sprintf("t=%d empty", r.Timestep))
	}
	cols := make([]string, len(rep.Renders))
	for i := range cols {
		cols[i] = strconv.Itoa(i + 1)
	}
	img, err := store.DrawSheet(ctx, rows, cols, benchSheetCell, func(r, c int) (image.Image, error) {
		if r == 0 {
			return rep.Renders[c], nil
		}
		return rep.Denoised[r-1][c], nil
	})
	if err != nil {
		return err
	}
	data, err := store.EncodePNG(img)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, data)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}
