package app

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"kata/model/world/bench"
	"kata/store"
	"kata/store/atomicfile"
)

// Files `kata bench actions` writes in its --out folder.
const (
	BenchReportFile   = "report.txt"    // settings, the table, timings
	BenchVerdictsFile = "verdicts.csv"  // one line per image (bench.CSVHeader)
	BenchCacheDir     = "cache"         // identifiers, checkpoints and images of unfinished runs (bench.Runner.CacheDir)
	benchSheetPrefix  = "sheet-"        // sheet-prompt.png, sheet-ti.png, sheet-pplus.png, sheet-adi.png
	benchSheetCell    = 96              // contact sheet cell side in pixels (at least the image size)
	benchProbeFile    = ".kata-probe-*" // written and removed to check the folder is writable
)

// prepareBenchDir creates dir when missing and checks, before any work, that
// it is a writable folder holding no finished run's results (an unfinished
// run's cache is welcome: the run resumes from it).
func prepareBenchDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	for _, name := range []string{BenchReportFile, BenchVerdictsFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("--out %s already holds a benchmark run (%s): choose another folder or remove it", dir, name)
		}
	}
	f, err := os.CreateTemp(dir, benchProbeFile)
	if err != nil {
		return fmt.Errorf("--out %s is not writable: %w", dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// benchSheetName is the contact sheet file of method m ("p+" -> "sheet-pplus.png").
func benchSheetName(m bench.Method) string {
	return benchSheetPrefix + m.FileName() + ".png"
}

// writeBenchResult writes the CSV, one contact sheet per method and the
// report into a.out, and prints the table to stdout.
func writeBenchResult(ctx context.Context, env Env, a *benchActionsArgs, modelHash string, res *bench.Result) error {
	if err := atomicfile.Write(filepath.Join(a.out, BenchVerdictsFile), func(w io.Writer) error {
		return bench.WriteCSV(w, res.Verdicts)
	}); err != nil {
		return err
	}
	for _, m := range res.Options.Methods {
		sheet, err := benchSheet(ctx, res, m)
		if err != nil {
			return fmt.Errorf("contact sheet of %s: %w", m, err)
		}
		data, err := store.EncodePNG(sheet)
		if err != nil {
			return fmt.Errorf("contact sheet of %s: %w", m, err)
		}
		if err := atomicfile.WriteBytes(filepath.Join(a.out, benchSheetName(m)), data); err != nil {
			return err
		}
	}
	var table strings.Builder
	if err := bench.WriteTable(&table, res.Rows()); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(a.out, BenchReportFile), func(w io.Writer) error {
		return writeBenchReport(w, a, modelHash, res, table.String())
	}); err != nil {
		return err
	}
	for _, o := range res.Overlaps {
		fmt.Fprintln(env.Stderr, "note:", o)
	}
	fmt.Fprint(env.Stdout, table.String())
	fmt.Fprintf(env.Stdout, "%d images in %s; results in %s\n", len(res.Verdicts), res.Wall.Round(time.Second), a.out)
	return nil
}

// writeBenchReport writes what a run did and measured, in plain text.
func writeBenchReport(w io.Writer, a *benchActionsArgs, modelHash string, res *bench.Result, table string) error {
	o := res.Options
	methods := make([]string, len(o.Methods))
	for i, m := range o.Methods {
		methods[i] = string(m)
	}
	judges := a.judges
	if judges == "" {
		judges = "shipped (assets/judges)"
	}
	variant := o.Variant
	if variant == "" {
		variant = "(none)"
	}
	fmt.Fprintf(w, "kata bench actions\n\nvariant   %s\ncommand   kata bench actions %s\nmodel     %s (%s)\njudges    %s\nseed      %d\nactions   %s\nsubjects  %s\nmethods   %s\n",
		variant, shellWords(a.args), a.model, modelHash, judges, o.Seed, strings.Join(o.Actions, ","), subjectList(o.Subjects), strings.Join(methods, ","))
	t := o.Train
	fmt.Fprintf(w, "training  lr %s%s, adi mask beta %g over %s, %d contrast images per exemplar at strength %g\n",
		benchLR(t.AdamW.LR), lazyNote(t.AdamW.Lazy), t.Mask.Beta, t.Mask.Scope, t.Contrast.PerExemplar, t.Contrast.Strength)
	fmt.Fprintf(w, "steps     %d per identifier, %d exemplars of %dpx\nimages    %d per subject, action and method; %d %s steps, CFG %g\nprompt    %s\n",
		o.Steps, o.Exemplars, o.ExemplarSize, o.Images, o.SampleSteps, o.Sampler, o.CFG, o.Prompt)
	fmt.Fprintf(w, "wall      %s\n\n%s\n", res.Wall.Round(time.Second), table)
	fmt.Fprintln(w, "timing (wall; the machine may have been shared)")
	for _, t := range res.Timing {
		line := fmt.Sprintf("  %-10s %-6s", t.Action, t.Method)
		if t.CachedIdentifier {
			line += fmt.Sprintf(" identifier of %d steps from the cache;", t.Steps)
		} else if t.Steps > 0 {
			line += fmt.Sprintf(" prepare+first step %s, train %d steps", t.Prepare.Round(time.Millisecond), t.Steps)
			if t.Steps > 1 {
				line += fmt.Sprintf(" (%.3f s/step after the first)", t.Train.Seconds()/float64(t.Steps-1))
			}
			line += fmt.Sprintf(", final smoothed loss %.4f, V moved %.2fx its start's norm", t.Loss, t.Drift)
			if t.Method == bench.MethodADI {
				line += fmt.Sprintf(", masks kept %.1f%% of V", 100*t.MaskKept)
			}
			line += ";"
		}
		made := t.Images - t.CachedImages
		line += fmt.Sprintf(" generate %d images in batches of %d in %s (%.3f s/image)", made, o.Images, t.Generate.Round(time.Millisecond),
			t.Generate.Seconds()/float64(max(made, 1)))
		if t.CachedImages > 0 {
			line += fmt.Sprintf(", %d more from the cache", t.CachedImages)
		}
		line += fmt.Sprintf(", judge them in %s", t.Judge.Round(time.Millisecond))
		fmt.Fprintln(w, line)
	}
	for _, n := range res.Overlaps {
		fmt.Fprintln(w, "note:", n)
	}
	return nil
}

// shellWords joins args as a shell reads them back, quoting those with
// spaces or shell characters.
func shellWords(args []string) string {
	out := make([]string, len(args))
	for i, s := range args {
		if s == "" || strings.ContainsAny(s, " \t\n'\"\\$`|&;()<>*?[]#~!{}") {
			s = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
		out[i] = s
	}
	return strings.Join(out, " ")
}

// benchLR names a learning rate, 0 being the trainer's per-method default.
func benchLR(lr float64) string {
	if lr == 0 {
		return "per method (adi.Options' default)"
	}
	return fmt.Sprint(lr)
}

// lazyNote names adi.AdamWConfig.Lazy in the report when it is on.
func lazyNote(lazy bool) string {
	if lazy {
		return " (lazy AdamW: zero-gradient entries left as they are)"
	}
	return ""
}

// benchSheet lays out method m's images: one row per subject, one column
// per action and image number.
func benchSheet(ctx context.Context, res *bench.Result, m bench.Method) (*image.NRGBA, error) {
	o := res.Options
	type key struct {
		action  string
		subject bench.Subject
		index   int
	}
	at := map[key]image.Image{}
	cell := benchSheetCell
	for i, v := range res.Verdicts {
		if v.Method == m {
			at[key{v.Action, v.Subject, v.Index}] = markVerdict(res.Images[i], v)
			cell = max(cell, res.Images[i].Bounds().Dx())
		}
	}
	rows := make([]string, len(o.Subjects))
	for i, s := range o.Subjects {
		rows[i] = s.String()
	}
	var cols []string
	for _, a := range o.Actions {
		for k := range o.Images {
			label := a
			if o.Images > 1 {
				label = fmt.Sprintf("%s %d", a, k+1)
			}
			cols = append(cols, label)
		}
	}
	return store.DrawSheet(ctx, rows, cols, min(cell, 2048), func(i, j int) (image.Image, error) {
		return at[key{o.Actions[j/o.Images], o.Subjects[i], j % o.Images}], nil
	})
}

// Verdict marks on contact sheets: a strip along the bottom of each image,
// its left half for the action verdict, its right half for the subject's.
var (
	benchRight = color.NRGBA{40, 170, 60, 255}
	benchWrong = color.NRGBA{210, 40, 40, 255}
)

// markVerdict returns a copy of img with v's verdicts drawn along its
// bottom edge (1/16 of its height, at least 2 pixels): green where the
// judge agreed with the prompt, red where not.
func markVerdict(img *image.NRGBA, v bench.Verdict) *image.NRGBA {
	out := image.NewNRGBA(img.Bounds())
	draw.Draw(out, out.Bounds(), img, img.Bounds().Min, draw.Src)
	b := out.Bounds()
	strip := max(b.Dy()/16, 2)
	mid := b.Min.X + b.Dx()/2
	mark := func(r image.Rectangle, ok bool) {
		c := benchWrong
		if ok {
			c = benchRight
		}
		draw.Draw(out, r, image.NewUniform(c), image.Point{}, draw.Src)
	}
	mark(image.Rect(b.Min.X, b.Max.Y-strip, mid-1, b.Max.Y), v.ActionOK())
	mark(image.Rect(mid+1, b.Max.Y-strip, b.Max.X, b.Max.Y), v.SubjectOK())
	return out
}

// benchReporter shows a run's progress on w: a bar with time left on a
// terminal, else a plain line at every stage and every 5%.
type benchReporter struct {
	w         io.Writer
	bar       *progressbar.ProgressBar
	tty       bool
	lastStage string
	lastShown float64
}

const benchBarMax = 1000

func newBenchReporter(w io.Writer) *benchReporter {
	r := &benchReporter{w: w, tty: isTerminal(w)}
	if r.tty {
		r.bar = progressbar.NewOptions(benchBarMax, progressbar.OptionSetWriter(w), progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionShowDescriptionAtLineEnd())
	}
	return r
}

func (r *benchReporter) report(p bench.Progress) {
	frac := p.Done / max(p.Total, 1)
	if r.tty {
		r.bar.Describe(p.Stage)
		_ = r.bar.Set(int(frac * benchBarMax))
		return
	}
	if p.Stage == r.lastStage && frac < r.lastShown+0.05 {
		return
	}
	r.lastStage, r.lastShown = p.Stage, frac
	left := "unknown"
	if p.Done > 0 {
		left = p.ETA.Round(time.Second).String()
	}
	fmt.Fprintf(r.w, "%5.1f%%  %s  (elapsed %s, about %s left)\n", 100*frac, p.Stage, p.Elapsed.Round(time.Second), left)
}

func (r *benchReporter) finish() {
	if r.bar != nil {
		_ = r.bar.Exit()
		fmt.Fprintln(r.w)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
