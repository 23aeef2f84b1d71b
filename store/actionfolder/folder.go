package actionfolder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Exts are the lower-case file extensions of pictures, the formats
// store.DecodeImage reads.
var Exts = []string{".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".gif", ".bmp", ".tif", ".tiff"}

// IsPicture reports whether the file name has one of Exts (any case).
func IsPicture(name string) bool {
	return slices.Contains(Exts, strings.ToLower(filepath.Ext(name)))
}

// ErrNoPictures is wrapped when a folder or list of paths holds no picture.
var ErrNoPictures = errors.New("no pictures")

// TextJSON is the name of a folder's caption-template file (matched in any case).
const TextJSON = "text.json"

// maxCaptionBytes bounds an NN.txt or text.json: captions are short, and a
// huge file is not one.
const maxCaptionBytes = 1 << 20

// Picture is one picture of an action folder with its caption.
type Picture struct {
	Path string // the picture file, inside Folder.Dir
	// Template is the caption, normally with "{}" where the action goes
	// (an ActionBench NN.txt names the action in words instead); "" when the
	// folder gives none.
	Template string
}

// Folder is what Read found in one action folder.
type Folder struct {
	Dir      string
	Pictures []Picture // in natural order of their names
	Others   []string  // files that are neither pictures nor their captions (notes), natural order
}

// Read reads one action folder (not recursive; hidden files are ignored).
// When an NN.txt or text.json cannot be read or parsed, Read still returns
// the folder, with the captions it could read, together with an error that
// joins one *fs.PathError per bad file.
func Read(dir string) (*Folder, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	f := &Folder{Dir: dir}
	var texts []string
	var jsonPath string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		p := filepath.Join(dir, name)
		switch {
		case IsPicture(name):
			f.Pictures = append(f.Pictures, Picture{Path: p})
		case strings.EqualFold(name, TextJSON):
			jsonPath = p
		case strings.EqualFold(filepath.Ext(name), ".txt"):
			texts = append(texts, p)
		default:
			f.Others = append(f.Others, p)
		}
	}
	slices.SortFunc(f.Pictures, func(a, b Picture) int { return naturalCompare(filepath.Base(a.Path), filepath.Base(b.Path)) })
	byStem := map[string][]int{}
	for i, p := range f.Pictures {
		byStem[stem(p.Path)] = append(byStem[stem(p.Path)], i)
	}
	var errs []error
	for _, t := range texts {
		owners := byStem[stem(t)]
		if len(owners) == 0 {
			f.Others = append(f.Others, t)
			continue
		}
		b, err := readSmall(t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, i := range owners {
			f.Pictures[i].Template = clean(string(b))
		}
	}
	slices.SortFunc(f.Others, func(a, b string) int { return naturalCompare(filepath.Base(a), filepath.Base(b)) })
	if jsonPath != "" {
		if err := f.applyTextJSON(jsonPath); err != nil {
			errs = append(errs, err)
		}
	}
	return f, errors.Join(errs...)
}

// applyTextJSON gives each picture its text.json template, over any NN.txt.
func (f *Folder) applyTextJSON(path string) error {
	data, err := readSmall(path)
	if err != nil {
		return err
	}
	t, err := ParseTemplates(data)
	if err != nil {
		return &fs.PathError{Op: "parse", Path: path, Err: err}
	}
	for i := range f.Pictures {
		if tmpl, ok := t.Lookup(filepath.Base(f.Pictures[i].Path), i); ok {
			f.Pictures[i].Template = clean(tmpl)
		}
	}
	return nil
}

func readSmall(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() || st.Size() > maxCaptionBytes {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("not a caption file (%v, %d bytes)", st.Mode().Type(), st.Size())}
	}
	return os.ReadFile(path)
}

// Find returns dir itself when it holds pictures, else its sub-folders that
// do (an ActionBench root of one folder per action), in natural order.
// Sub-folders that cannot be listed are left out.
func Find(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var subdirs []string
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), "."):
		case e.IsDir():
			subdirs = append(subdirs, filepath.Join(dir, e.Name()))
		case IsPicture(e.Name()):
			return []string{dir}, nil
		}
	}
	slices.SortFunc(subdirs, func(a, b string) int { return naturalCompare(filepath.Base(a), filepath.Base(b)) })
	var out []string
	for _, s := range subdirs {
		ents, err := os.ReadDir(s)
		if err != nil {
			continue
		}
		if slices.ContainsFunc(ents, func(e fs.DirEntry) bool {
			return !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && IsPicture(e.Name())
		}) {
			out = append(out, s)
		}
	}
	return out, nil
}

// Collect expands files and action folders (not recursive) into their
// pictures with captions, in the order given and each folder in natural
// order. A file named directly is taken as a picture whatever its extension,
// with the caption its folder gives it. A folder without pictures wraps
// ErrNoPictures; unlike Read, a bad caption file is an error.
func Collect(paths []string) ([]Picture, error) {
	var out []Picture
	folders := map[string]*Folder{}
	read := func(dir string) (*Folder, error) {
		if f, ok := folders[dir]; ok {
			return f, nil
		}
		f, err := Read(dir)
		if err != nil {
			return nil, err
		}
		folders[dir] = f
		return f, nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		p = filepath.Clean(p)
		if st.IsDir() {
			f, err := read(p)
			if err != nil {
				return nil, err
			}
			if len(f.Pictures) == 0 {
				return nil, fmt.Errorf("%s: %w", p, ErrNoPictures)
			}
			out = append(out, f.Pictures...)
			continue
		}
		f, err := read(filepath.Dir(p))
		if err != nil {
			return nil, err
		}
		pic := Picture{Path: p}
		if i := slices.IndexFunc(f.Pictures, func(q Picture) bool { return q.Path == p }); i >= 0 {
			pic = f.Pictures[i]
		}
		out = append(out, pic)
	}
	if len(out) == 0 {
		return nil, ErrNoPictures
	}
	return out, nil
}

func clean(caption string) string { return strings.Join(strings.Fields(caption), " ") }

func stem(p string) string {
	b := filepath.Base(p)
	return strings.TrimSuffix(b, filepath.Ext(b))
}
