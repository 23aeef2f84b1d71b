package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"kata/model/adi"
	"kata/store"
	"kata/store/actionfolder"
)

// trainLimits are the decoding limits of exemplars read for training: the
// library's, without its minimum size (the trainer scales every photo to
// the model's resolution anyway).
var trainLimits = store.Limits{MinSide: -1}

// folderExemplars reads exemplar photos from files and action folders with
// store/actionfolder's rules (the same captions `kata library import` gives)
// and returns them with the file each came from.
func folderExemplars(paths []string) ([]adi.Exemplar, []string, error) {
	pics, err := actionfolder.Collect(paths)
	if err != nil {
		return nil, nil, fmt.Errorf("exemplars: %w", err)
	}
	out := make([]adi.Exemplar, len(pics))
	files := make([]string, len(pics))
	for i, p := range pics {
		img, err := store.DecodeFile(p.Path, trainLimits)
		if err != nil {
			return nil, nil, fmt.Errorf("exemplar %s: %w", p.Path, err)
		}
		out[i] = adi.Exemplar{Name: p.Path, Image: img, Template: p.Template}
		files[i] = p.Path
	}
	return out, files, nil
}

// contrastPhotos reads the user's contrast photos (files and folders). A
// photo whose name starts with an exemplar's file stem followed by '-', '_'
// or '.' ("01-stand.png" for 01.jpg) belongs to that exemplar; the others
// serve every exemplar without its own.
func contrastPhotos(paths, exemplarFiles []string) ([]adi.ContrastImage, error) {
	pics, err := actionfolder.Collect(paths)
	if err != nil {
		return nil, fmt.Errorf("contrast images: %w", err)
	}
	out := make([]adi.ContrastImage, len(pics))
	for i, p := range pics {
		img, err := store.DecodeFile(p.Path, trainLimits)
		if err != nil {
			return nil, fmt.Errorf("contrast image %s: %w", p.Path, err)
		}
		out[i] = adi.ContrastImage{Image: img}
		name := filepath.Base(p.Path)
		for j, e := range exemplarFiles {
			s := strings.TrimSuffix(filepath.Base(e), filepath.Ext(e))
			if len(name) > len(s) && strings.HasPrefix(name, s) && strings.ContainsRune("-_.", rune(name[len(s)])) {
				out[i].Exemplar = j + 1
				break
			}
		}
	}
	return out, nil
}

// libraryExemplars builds an action's exemplars from its library rows: the
// stored photo and its caption with the action's trigger as the slot.
func libraryExemplars(ctx context.Context, lib *store.Library, a store.Action) ([]adi.Exemplar, error) {
	rows, err := lib.Exemplars(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("action %s has no photos: add some first", a.Name)
	}
	out := make([]adi.Exemplar, len(rows))
	for i, e := range rows {
		img, err := lib.Image(e.Image)
		if err != nil {
			return nil, fmt.Errorf("photo %d of %s: %w", e.ID, a.Name, err)
		}
		out[i] = adi.Exemplar{Name: fmt.Sprintf("photo %d", e.ID), Image: img, Template: adi.NormalizeTemplate(e.Caption, a.Trigger)}
	}
	return out, nil
}

// contrastCacheDir is where training keeps synthesised contrast images:
// derived data in the library's work folder, keyed by picture hashes, so
// every action and run shares it and deleting it costs only recomputation.
func contrastCacheDir(libDir string) string { return filepath.Join(libDir, "work", "contrast") }
