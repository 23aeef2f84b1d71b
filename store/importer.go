package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/disintegration/imaging"
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

// imageExts are the extensions a folder scan treats as pictures.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".jpe": true, ".jfif": true, ".webp": true,
	".gif": true, ".bmp": true, ".tif": true, ".tiff": true}

// Import adds picture files and folders as exemplars. A folder is either an
// action folder (pictures, optional NN.txt captions beside them, optional
// text.json templates with {} where the action goes, as ActionBench lays
// them out) or a root of such folders, one per action. Every bad file gets
// its own error in the result and the rest is imported; the error returned
// is for failures of the library itself (or cancellation).
func (l *Library) Import(ctx context.Context, paths []string, opt ImportOptions) (*ImportResult, error) {
	res := &ImportResult{}
	type job struct {
		path, action, caption string
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
		folders, err := actionFolders(p)
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
				name = filepath.Base(f.dir)
			}
			captions, skipped, err := readCaptions(f, DefaultTrigger(name))
			res.Skipped = append(res.Skipped, skipped...)
			if err != nil {
				res.Failed = append(res.Failed, err)
			}
			for _, img := range f.images {
				jobs = append(jobs, job{path: img, action: name, caption: captions[img]})
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
		caption := j.caption
		if caption == "" {
			caption = "a photo of a person " + a.Trigger
		}
		caption = strings.ReplaceAll(caption, DefaultTrigger(j.action), a.Trigger)
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
	// Opening a FIFO or device would block or read forever.
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		res.Failed = append(res.Failed, &FileError{path, fmt.Errorf("not a regular file (%v)", st.Mode().Type())})
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		res.Failed = append(res.Failed, &FileError{path, unwrapPathError(err)})
		return nil
	}
	img, _, err := DecodeImage(f, lim)
	f.Close()
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

// actionFolder is a folder of pictures with its caption files.
type actionFolder struct {
	dir    string
	images []string // in natural order (2.jpg before 10.jpg)
	others []string // other files
}

// actionFolders returns dir itself when it holds pictures, else its
// sub-folders that do (an ActionBench root).
func actionFolders(dir string) ([]actionFolder, error) {
	f, subdirs, err := scanFolder(dir)
	if err != nil {
		return nil, err
	}
	if len(f.images) > 0 {
		return []actionFolder{f}, nil
	}
	var out []actionFolder
	for _, s := range subdirs {
		sf, _, err := scanFolder(s)
		if err == nil && len(sf.images) > 0 {
			out = append(out, sf)
		}
	}
	return out, nil
}

func scanFolder(dir string) (actionFolder, []string, error) {
	f := actionFolder{dir: dir}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return f, nil, err
	}
	var subdirs []string
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		switch {
		case e.IsDir():
			subdirs = append(subdirs, p)
		case imageExts[strings.ToLower(filepath.Ext(name))]:
			f.images = append(f.images, p)
		default:
			f.others = append(f.others, p)
		}
	}
	sort.Slice(f.images, func(i, j int) bool { return naturalLess(filepath.Base(f.images[i]), filepath.Base(f.images[j])) })
	sort.Slice(subdirs, func(i, j int) bool { return naturalLess(subdirs[i], subdirs[j]) })
	return f, subdirs, nil
}

// readCaptions maps each picture of f to its caption: a text.json template
// (with {} replaced by trigger) first, else the NN.txt beside it. Files that
// are neither pictures nor captions are returned as skipped.
func readCaptions(f actionFolder, trigger string) (map[string]string, []string, *FileError) {
	captions := map[string]string{}
	byStem := map[string]string{}
	for _, img := range f.images {
		byStem[stem(img)] = img
	}
	var skipped []string
	var jsonPath string
	for _, o := range f.others {
		base := strings.ToLower(filepath.Base(o))
		switch {
		case base == "text.json":
			jsonPath = o
		case filepath.Ext(base) == ".txt" && byStem[stem(o)] != "":
			if b, err := os.ReadFile(o); err == nil && len(b) <= 64<<10 {
				captions[byStem[stem(o)]] = fillTemplate(string(b), trigger)
			}
		default:
			skipped = append(skipped, o)
		}
	}
	if jsonPath == "" {
		return captions, skipped, nil
	}
	data, err := os.ReadFile(jsonPath)
	if err != nil {
		return captions, skipped, &FileError{jsonPath, unwrapPathError(err)}
	}
	templates, err := ParseTemplates(data)
	if err != nil {
		return captions, skipped, &FileError{jsonPath, err}
	}
	for i, img := range f.images {
		base := filepath.Base(img)
		for _, key := range []string{base, stem(img), strconv.Itoa(i), trimZeros(stem(img))} {
			if t, ok := templates[key]; ok {
				captions[img] = fillTemplate(t, trigger)
				break
			}
		}
	}
	return captions, skipped, nil
}

// ParseTemplates reads an ActionBench-style text.json: a list of caption
// templates (in picture order, keys "0", "1", ...) or an object from picture
// name, stem or number to a template or a list of templates (the first is
// used). Templates mark the action with {}.
func ParseTemplates(data []byte) (map[string]string, error) {
	out := map[string]string{}
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		for i, t := range list {
			out[strconv.Itoa(i)] = t
		}
		return out, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("text.json: want a list of templates or an object of them: %w", err)
	}
	for k, raw := range obj {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out[k] = s
			continue
		}
		var ss []string
		if json.Unmarshal(raw, &ss) == nil && len(ss) > 0 {
			out[k] = ss[0]
			continue
		}
		return nil, fmt.Errorf("text.json: entry %q is neither a template nor a list of them", k)
	}
	return out, nil
}

func fillTemplate(t, trigger string) string {
	t = strings.Join(strings.Fields(t), " ")
	return strings.ReplaceAll(t, "{}", trigger)
}

func stem(p string) string {
	b := filepath.Base(p)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

func trimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" && s != "" {
		return "0"
	}
	return t
}

// naturalLess orders names with digit runs compared as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da && db {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := trimZeros(na), trimZeros(nb)
			if len(ta) != len(tb) {
				return len(ta) < len(tb)
			}
			if ta != tb {
				return ta < tb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
