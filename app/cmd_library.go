package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"kata/model/adi"
	"kata/model/scheduler"
	"kata/store"
	"kata/store/atomicfile"
)

func init() {
	Register(Command{
		Name:    "library",
		Summary: "inspect, check, import into and export from the library (info|check|import|export|settings)",
		Run:     runLibrary,
	})
}

const libraryUsage = `[--library DIR] SUBCOMMAND [flags] [args]

Subcommands:
  info                        counts of actions, exemplars, identifiers, subjects, generations
  check [--repair|--undo]     verify database and files (exit 1 when problems remain);
                              --repair fixes (reversibly), --undo reverts the latest repair
  import [--action NAME] PATH...
                              add photos: files, action folders, ActionBench-style roots
  import-identifier FILE...   add identifier .safetensors files, Kata's or other tools'
                              textual-inversion embeddings (AUTOMATIC1111, ComfyUI,
                              diffusers), each to the action of its trigger (<x> for
                              x.safetensors; created when missing)
  export [flags] images DIR   generation images (PNG with settings, or --format jpeg)
  export [flags] zip FILE     generations, exemplars and identifiers with manifest.json
  export [flags] sheet FILE   contact sheet PNG: subjects x actions (--force replaces FILE)
  export [flags] identifiers DIR
                              newest .safetensors of each identifier: TI ones in the
                              layout AUTOMATIC1111/ComfyUI/diffusers load; P+/ADI ones in
                              Kata's layout, which those tools refuse (--single-vector:
                              also a one-vector version they load, losing what is layer-wise)
  settings FILE               print the generation settings stored in a PNG or JPEG

The library is --library DIR, else $KATA_LIBRARY, else the OS data directory.`

func runLibrary(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "library", libraryUsage)
	dir := fs.String("library", "", "library directory")
	if err := ParseCommandFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: missing subcommand", ErrUsage)
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	switch sub {
	case "info":
		return libraryInfo(ctx, env, dir, rest)
	case "check":
		return libraryCheck(ctx, env, dir, rest)
	case "import-identifier":
		return libraryImportIdentifier(ctx, env, dir, rest)
	case "import":
		return libraryImport(ctx, env, dir, rest)
	case "export":
		return libraryExport(ctx, env, dir, rest)
	case "settings":
		return librarySettings(env, dir, rest)
	}
	fs.Usage()
	return fmt.Errorf("%w: unknown subcommand %q", ErrUsage, sub)
}

// openLibrary opens the library chosen by --library, $KATA_LIBRARY or the default.
func openLibrary(ctx context.Context, dir string) (*store.Library, error) {
	if dir == "" {
		var err error
		if dir, err = store.DefaultDir(); err != nil {
			return nil, err
		}
	}
	return store.OpenContext(ctx, dir)
}

// subFlags is the flag set of a subcommand; it accepts --library too, so it
// may come before or after the subcommand word.
func subFlags(env Env, name, usage string, dir *string) *flag.FlagSet {
	fs := NewFlagSet(env, "library "+name, usage)
	fs.StringVar(dir, "library", *dir, "library directory")
	return fs
}

func libraryInfo(ctx context.Context, env Env, dir *string, args []string) error {
	fs := subFlags(env, "info", "[--library DIR]", dir)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: info takes no arguments", ErrUsage)
	}
	lib, err := openLibrary(ctx, *dir)
	if err != nil {
		return err
	}
	defer lib.Close()
	c, err := lib.Counts(ctx)
	if err != nil {
		return err
	}
	w := env.Stdout
	fmt.Fprintf(w, "library      %s\n", lib.Dir())
	fmt.Fprintf(w, "actions      %d\n", c.Actions)
	fmt.Fprintf(w, "exemplars    %d\n", c.Exemplars)
	fmt.Fprintf(w, "identifiers  %d (%d versions)\n", c.Identifiers, c.Versions)
	fmt.Fprintf(w, "subjects     %d\n", c.Subjects)
	fmt.Fprintf(w, "generations  %d (%d favourites)\n", c.Generations, c.Favourites)
	fmt.Fprintf(w, "models       %d\n", c.Models)
	fmt.Fprintf(w, "jobs         %d\n", c.Jobs)
	fmt.Fprintf(w, "files        %d (%s)\n", c.Files, humanBytes(c.Bytes))
	for _, p := range lib.OpenReport().Problems {
		fmt.Fprintf(env.Stderr, "cleared at open: %s\n", p)
	}
	if err := lib.WriteErr(); err != nil {
		fmt.Fprintf(env.Stderr, "warning: %v\n", err)
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, i := float64(n), -1
	for f >= unit && i < 3 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", f, "KMGT"[i])
}

func libraryCheck(ctx context.Context, env Env, dir *string, args []string) error {
	fs := subFlags(env, "check", "[--repair | --undo] [--library DIR]", dir)
	repair := fs.Bool("repair", false, "fix what the check finds (needs the library to itself; reversible with --undo)")
	undo := fs.Bool("undo", false, "undo the latest --repair: database and moved files back as they were")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: check takes no arguments", ErrUsage)
	}
	if *repair && *undo {
		return fmt.Errorf("%w: --repair and --undo exclude each other", ErrUsage)
	}
	if *undo {
		return libraryUndo(env, *dir)
	}
	lib, err := openLibrary(ctx, *dir)
	if err != nil {
		return err
	}
	defer lib.Close()
	for _, p := range lib.OpenReport().Problems {
		fmt.Fprintf(env.Stdout, "at open: %s\n", p)
	}
	var rep store.Report
	if *repair {
		rep, err = lib.Repair(ctx)
	} else {
		rep, err = lib.Check(ctx)
	}
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(env.Stdout, p)
	}
	if !rep.OK() {
		hint := ""
		if !*repair {
			hint = " (run with --repair to fix)"
		}
		return fmt.Errorf("%d problem(s) in %s%s", len(rep.Problems), lib.Dir(), hint)
	}
	if rep.Quarantine != "" {
		fmt.Fprintf(env.Stdout, "the database as it was and the files moved are in %s; kata library check --undo puts them back\n", rep.Quarantine)
	}
	fmt.Fprintf(env.Stdout, "ok: %d files verified\n", rep.Blobs)
	return nil
}

// libraryUndo undoes the latest repair of the library in dir.
func libraryUndo(env Env, dir string) error {
	if dir == "" {
		var err error
		if dir, err = store.DefaultDir(); err != nil {
			return err
		}
	}
	done, err := store.UndoRepair(dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "repair undone; its folder is now %s\n", done)
	return nil
}

func libraryImport(ctx context.Context, env Env, dir *string, args []string) error {
	fs := subFlags(env, "import", "[--action NAME] [--min-side PX] [--max-pixels N] PATH...", dir)
	action := fs.String("action", "", "action to add the photos to (default: each folder's name)")
	minSide := fs.Int("min-side", store.DefaultLimits.MinSide, "reject pictures whose shorter side is below this")
	maxPixels := fs.Int("max-pixels", store.DefaultLimits.MaxPixels, "reject pictures with more pixels than this")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: import needs at least one file or folder", ErrUsage)
	}
	if *minSide <= 0 {
		*minSide = -1 // store: negative = no minimum
	}
	lib, err := openLibrary(ctx, *dir)
	if err != nil {
		return err
	}
	defer lib.Close()
	res, err := lib.Import(ctx, fs.Args(), store.ImportOptions{Action: *action,
		Limits: store.Limits{MinSide: *minSide, MaxPixels: *maxPixels}})
	if res != nil {
		for _, f := range res.Failed {
			fmt.Fprintf(env.Stderr, "skipped %v\n", f)
		}
		for _, d := range res.Duplicates {
			fmt.Fprintf(env.Stdout, "duplicate %s (exemplar %d)\n", store.Quote(d.Path), d.Existing.ID)
		}
		var names []string
		for _, a := range res.Actions {
			names = append(names, a.Name)
		}
		fmt.Fprintf(env.Stdout, "added %d, duplicates %d, failed %d", len(res.Added), len(res.Duplicates), len(res.Failed))
		if len(names) > 0 {
			fmt.Fprintf(env.Stdout, " (actions: %s)", strings.Join(names, ", "))
		}
		fmt.Fprintln(env.Stdout)
	}
	if err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("%d file(s) could not be imported", len(res.Failed))
	}
	return nil
}

func libraryImportIdentifier(ctx context.Context, env Env, dir *string, args []string) error {
	fs := subFlags(env, "import-identifier", "FILE...", dir)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: import-identifier needs at least one identifier file", ErrUsage)
	}
	lib, err := openLibrary(ctx, *dir)
	if err != nil {
		return err
	}
	defer lib.Close()
	failed := 0
	for _, path := range fs.Args() {
		res, err := importIdentifier(ctx, lib, path)
		if err != nil {
			fmt.Fprintf(env.Stderr, "skipped %s: %v\n", store.Quote(path), err)
			failed++
			continue
		}
		what := "added"
		if res.Duplicate {
			what = "duplicate of"
		}
		created := ""
		if res.Created {
			created = " (new action)"
		}
		fmt.Fprintf(env.Stdout, "%s %s: %s version %d of action %s%s, %s, %d token(s)\n", store.Quote(path), res.Trigger,
			what, res.Version, store.Quote(res.Action.Name), created, res.Method, res.Tokens)
	}
	if failed > 0 {
		return fmt.Errorf("%d identifier file(s) could not be imported", failed)
	}
	return nil
}

func libraryExport(ctx context.Context, env Env, dir *string, args []string) error {
	fs := subFlags(env, "export", "[flags] images|zip|sheet|identifiers DEST", dir)
	format := fs.String("format", store.FormatPNG, "image format for images: png or jpeg")
	quality := fs.Int("quality", 92, "JPEG quality 1-100")
	favourites := fs.Bool("favourites", false, "only favourite generations")
	actionName := fs.String("action", "", "only this action")
	subjectName := fs.String("subject", "", "only this subject")
	cell := fs.Int("cell", 192, "contact sheet cell size in pixels")
	force := fs.Bool("force", false, "replace an existing zip or sheet file")
	single := fs.Bool("single-vector", false, "identifiers: write P+/ADI ones also as one mean vector that AUTOMATIC1111, ComfyUI and diffusers load (loses the per-layer vectors)")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("%w: export needs a kind (images, zip, sheet, identifiers) and a destination", ErrUsage)
	}
	kind, dest := fs.Arg(0), fs.Arg(1)
	switch kind {
	case "images", "zip", "sheet", "identifiers":
	default:
		return fmt.Errorf("%w: unknown export kind %q", ErrUsage, kind)
	}
	if *format != store.FormatPNG && *format != store.FormatJPEG && *format != "jpg" {
		return fmt.Errorf("%w: --format must be png or jpeg", ErrUsage)
	}
	if *quality < 1 || *quality > 100 {
		return fmt.Errorf("%w: --quality must be 1-100", ErrUsage)
	}
	// The destination first: a folder that cannot be written fails now.
	var err error
	if kind == "images" || kind == "identifiers" {
		err = ensureDir(dest)
	} else {
		err = ensureDirsOf(dest)
	}
	if err != nil {
		return err
	}
	if kind == "zip" || kind == "sheet" {
		if err := refuseExisting(dest, *force); err != nil {
			return err
		}
	}
	lib, err := openLibrary(ctx, *dir)
	if err != nil {
		return err
	}
	defer lib.Close()
	filter := store.GenerationFilter{Favourites: *favourites}
	var actions []store.Action
	var subjects []store.Subject
	if *actionName != "" {
		a, err := lib.ActionByName(ctx, *actionName)
		if err != nil {
			return err
		}
		filter.ActionID, actions = a.ID, []store.Action{a}
	}
	if *subjectName != "" {
		s, err := findSubject(ctx, lib, *subjectName)
		if err != nil {
			return err
		}
		filter.SubjectID, subjects = s.ID, []store.Subject{s}
	}
	switch kind {
	case "images":
		gens, err := lib.Generations(ctx, filter)
		if err != nil {
			return err
		}
		paths, err := lib.ExportImages(ctx, dest, gens, *format, *quality)
		fmt.Fprintf(env.Stdout, "exported %d image(s) to %s\n", len(paths), dest)
		return err
	case "sheet":
		sheet, err := lib.ContactSheet(ctx, store.SheetOptions{Subjects: subjects, Actions: actions, Cell: *cell})
		if err != nil {
			return err
		}
		if err := writeAtomicWith(dest, func(w io.Writer) error { return png.Encode(w, sheet) }); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "contact sheet %dx%d written to %s\n", sheet.Bounds().Dx(), sheet.Bounds().Dy(), dest)
		return nil
	case "identifiers":
		versions, err := latestVersions(ctx, lib, filter.ActionID)
		if err != nil {
			return err
		}
		warned := false
		for _, v := range versions {
			p, err := exportIdentifier(ctx, lib, v, dest, false)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, p)
			if !*single {
				continue
			}
			sp, err := exportIdentifier(ctx, lib, v, dest, true)
			if err != nil {
				return err
			}
			if sp != p {
				fmt.Fprintln(env.Stdout, sp)
				if !warned {
					fmt.Fprintf(env.Stderr, "note: in the -single files %s\n", adi.SingleVectorLoss)
					warned = true
				}
			}
		}
		if len(versions) == 0 {
			fmt.Fprintln(env.Stdout, "no identifiers to export")
		}
		return nil
	}
	// zip: the selected generations, the exemplars and newest identifiers of
	// the selected action (all actions when none is given).
	var sel store.Selection
	if sel.Generations, err = lib.Generations(ctx, filter); err != nil {
		return err
	}
	if sel.Exemplars, err = lib.Exemplars(ctx, filter.ActionID); err != nil {
		return err
	}
	if sel.IdentifierVersions, err = latestVersions(ctx, lib, filter.ActionID); err != nil {
		return err
	}
	if err := lib.ExportZipFile(ctx, dest, sel); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "wrote %s: %d generation(s), %d exemplar(s), %d identifier(s)\n",
		dest, len(sel.Generations), len(sel.Exemplars), len(sel.IdentifierVersions))
	return nil
}

// refuseExisting refuses to replace the file at dest unless force is set.
func refuseExisting(dest string, force bool) error {
	st, err := os.Stat(dest)
	switch {
	case err != nil:
		return nil
	case st.IsDir():
		return fmt.Errorf("%s is a folder; give a file name", store.Quote(dest))
	case !force:
		return fmt.Errorf("%s exists; give --force to replace it", store.Quote(dest))
	}
	return nil
}

func findSubject(ctx context.Context, lib *store.Library, name string) (store.Subject, error) {
	subs, err := lib.Subjects(ctx)
	if err != nil {
		return store.Subject{}, err
	}
	for _, s := range subs {
		if s.Name == name {
			return s, nil
		}
	}
	return store.Subject{}, fmt.Errorf("subject %q: %w", name, store.ErrNotFound)
}

// latestVersions returns the newest version id of each identifier of an
// action (of every action for 0).
func latestVersions(ctx context.Context, lib *store.Library, actionID int64) ([]int64, error) {
	ids, err := lib.Identifiers(ctx, actionID)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, id := range ids {
		v, err := lib.LatestVersion(ctx, id.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue // not trained yet
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v.ID)
	}
	return out, nil
}

func writeAtomicWith(path string, fn func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, fn)
}

func librarySettings(env Env, dir *string, args []string) error {
	fs := subFlags(env, "settings", "FILE", dir)
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: settings needs one PNG or JPEG file", ErrUsage)
	}
	s, err := store.ReadSettings(fs.Arg(0))
	if err != nil {
		return err
	}
	is, err := ReadImageSettings(fs.Arg(0))
	if err != nil {
		return err
	}
	if s.Source != "" && is.Sampler != "" {
		s.Sampler = scheduler.DisplayName(is.Sampler) // other tools' names, in A1111's
	}
	fmt.Fprintln(env.Stdout, store.QuoteText(s.Parameters()))
	if s.Source != "" {
		fmt.Fprintf(env.Stderr, "read from %s metadata\n", s.Source)
	}
	for _, ig := range is.Ignored {
		fmt.Fprintf(env.Stderr, "ignored: %s\n", ig)
	}
	return nil
}
