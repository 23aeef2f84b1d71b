package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/disintegration/imaging"

	"kata/model/placeholder"
	"kata/store/actionfolder"
)

// ImportOptions control Import.
type ImportOptions struct {
	// Action receives the exemplars. It is created when missing. When empty,
	// a folder's exemplars go to the action named after the folder; loose
	// files need it.
	Action string
	Limits Limits
	// MaxSide bounds the longer side of stored exemplars: larger pictures are
	// scaled down (Lanczos) on import, since training works at 512-768 pixels
	// and a 24-megapixel PNG would take ~50 MB. Default 2048; negative keeps
	// full size. The original stays at Exemplar.Source.
	MaxSide int
	// Progress, when set, is called after each file with counts so far.
	Progress func(done, total int, path string)
}

// DefaultMaxSide is ImportOptions.MaxSide when unset.
const DefaultMaxSide = 2048

// ImportResult says what happened to each input file.
type ImportResult struct {
	Added      []Exemplar
	Duplicates []Duplicate  // pictures the action already had
	Failed     []*FileError // files that could not be imported; the rest were
	Skipped    []string     // files in folders that are not pictures (captions, notes)
	Actions    []Action     // actions the files went to, created when new
}

// Duplicate is an input file whose picture the action already had.
type Duplicate struct {
	Path     string
	Existing Exemplar
}

// FileError is why one file or folder was not imported.
type FileError struct {
	Path string
	Err  error
}

// Error names the file and the reason.
func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap gives the reason, for errors.Is with ErrEmptyFile and the others.
func (e *FileError) Unwrap() error { return e.Err }

// Import adds picture files and folders as exemplars. A folder is either an
// action folder (read by store/actionfolder: pictures, NN.txt captions,
// text.json templates with {} where the action goes, as ActionBench lays
// them out) or a root of such folders, one per action. Every bad file gets
// its own error in the result and the rest is imported; the error returned
// is for failures of the library itself (or cancellation).
func (l *Library) Import(ctx context.Context, paths []string, opt ImportOptions) (*ImportResult, error) {
	res := &ImportResult{}
	type job struct {
		path, action, template string
	}
	var jobs []job
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			res.Failed = append(res.Failed, &FileError{p, unwrapPathError(err)})
			continue
		}
		if !st.IsDir() {
			if opt.Action == "" {
				res.Failed = append(res.Failed, &FileError{p, errors.New("no action to add it to (give one)")})
				continue
			}
			jobs = append(jobs, job{path: p, action: opt.Action})
			continue
		}
		folders, err := actionfolder.Find(p)
		if err != nil {
			res.Failed = append(res.Failed, &FileError{p, unwrapPathError(err)})
			continue
		}
		if len(folders) == 0 {
			res.Failed = append(res.Failed, &FileError{p, errors.New("folder holds no pictures")})
			continue
		}
		for _, f := range folders {
			name := opt.Action
			if name == "" {
				name = filepath.Base(f)
			}
			images, templates, skipped, fails := readCaptions(f)
			res.Skipped = append(res.Skipped, skipped...)
			res.Failed = append(res.Failed, fails...)
			for _, img := range images {
				jobs = append(jobs, job{path: img, action: name, template: templates[img]})
			}
		}
	}
	actions := map[string]Action{}
	for i, j := range jobs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		a, ok := actions[j.action]
		if !ok {
			var err error
			if a, err = l.ensureAction(ctx, j.action); err != nil {
				return res, fmt.Errorf("import: %w", err)
			}
			actions[j.action] = a
			res.Actions = append(res.Actions, a)
		}
		caption := placeholder.Fill(cmp.Or(j.template, placeholder.DefaultCaption), a.Trigger)
		if t, err := placeholder.For(j.action); err == nil && t != a.Trigger {
			caption = strings.ReplaceAll(caption, t, a.Trigger) // a caption that spells the trigger out
		}
		if err := l.importFile(ctx, res, a, j.path, caption, opt.Limits, opt.MaxSide); err != nil {
			return res, err
		}
		if opt.Progress != nil {
			opt.Progress(i+1, len(jobs), j.path)
		}
	}
	return res, nil
}

func (l *Library) ensureAction(ctx context.Context, name string) (Action, error) {
	a, err := l.ActionByName(ctx, name)
	if errors.Is(err, ErrNotFound) {
		a, err = l.CreateAction(ctx, Action{Name: name})
		if errors.Is(err, ErrDuplicate) { // made meanwhile by another process
			a, err = l.ActionByName(ctx, name)
		}
	}
	return a, err
}

// importFile adds one picture; problems with the file land in res, problems
// with the library are returned.
func (l *Library) importFile(ctx context.Context, res *ImportResult, a Action, path, caption string, lim Limits, maxSide int) error {
	img, err := DecodeFile(path, lim)
	if err != nil {
		res.Failed = append(res.Failed, &FileError{path, err})
		return nil
	}
	if maxSide == 0 {
		maxSide = DefaultMaxSide
	}
	if b := img.Bounds(); maxSide > 0 && max(b.Dx(), b.Dy()) > maxSide {
		img = imaging.Fit(img, maxSide, maxSide, imaging.Lanczos)
	}
	abs, _ := filepath.Abs(path)
	e, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID, Caption: caption, Source: abs}, img)
	switch {
	case errors.Is(err, ErrDuplicate):
		res.Duplicates = append(res.Duplicates, Duplicate{Path: path, Existing: e})
	case err != nil:
		return fmt.Errorf("import %s: %w", path, err)
	default:
		res.Added = append(res.Added, e)
	}
	return nil
}

// unwrapPathError drops the path from an *os.PathError: FileError names it.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// readCaptions reads the action folder dir: its pictures in natural order
// and the caption template of each (actionfolder's rule).
// Files that are neither pictures nor captions are returned as skipped, bad
// caption files as errors of their own.
func readCaptions(dir string) ([]string, map[string]string, []string, []*FileError) {
	f, err := actionfolder.Read(dir)
	var fails []*FileError
	if f == nil {
		return nil, nil, nil, []*FileError{{dir, unwrapPathError(err)}}
	}
	for _, e := range splitErrors(err) {
		var pe *fs.PathError
		if errors.As(e, &pe) {
			fails = append(fails, &FileError{pe.Path, unwrapPathError(e)})
		} else {
			fails = append(fails, &FileError{dir, e})
		}
	}
	images := make([]string, len(f.Pictures))
	templates := map[string]string{}
	for i, p := range f.Pictures {
		images[i] = p.Path
		templates[p.Path] = p.Template
	}
	return images, templates, f.Others, fails
}

// splitErrors undoes errors.Join.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
