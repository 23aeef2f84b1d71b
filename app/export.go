package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"kata/store"
)

// ExportFormats are the image formats ExportImages writes: "png" carries the
// settings (AUTOMATIC1111 parameters and Kata's JSON), "jpeg" a smaller file
// with them in its comment.
var ExportFormats = []string{store.FormatPNG, store.FormatJPEG}

// exportQuality is the JPEG quality of exported images.
const exportQuality = 92

// pickGenerations returns the library rows of ids, or the favourites when
// ids is empty; an empty result is an error that says what to do.
func (k *Kata) pickGenerations(ctx context.Context, ids []int64) ([]store.Generation, error) {
	if len(ids) == 0 {
		gens, err := k.lib.Generations(ctx, store.GenerationFilter{Favourites: true})
		if err == nil && len(gens) == 0 {
			err = errors.New("no favourites yet: mark images with the star, or select some")
		}
		return gens, err
	}
	out := make([]store.Generation, 0, len(ids))
	for _, id := range ids {
		g, err := k.lib.Generation(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// ExportImages writes the images ids (the favourites when ids is empty) into
// dir in format (one of ExportFormats) and returns the files written.
func (k *Kata) ExportImages(ids []int64, dir, format string) ([]string, error) {
	if !slices.Contains(ExportFormats, format) {
		return nil, fmt.Errorf("export format %q: png or jpeg", format)
	}
	ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
	defer cancel()
	gens, err := k.pickGenerations(ctx, ids)
	if err != nil {
		return nil, err
	}
	return k.lib.ExportImages(ctx, dir, gens, format, exportQuality)
}

// ExportZip writes the images ids (the favourites when ids is empty), the
// identifiers their prompts used and a manifest into a zip file at path.
func (k *Kata) ExportZip(ids []int64, path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
	defer cancel()
	gens, err := k.pickGenerations(ctx, ids)
	if err != nil {
		return err
	}
	sel := store.Selection{Generations: gens}
	for _, g := range gens {
		for _, v := range g.IdentifierVersions {
			if !slices.Contains(sel.IdentifierVersions, v) {
				sel.IdentifierVersions = append(sel.IdentifierVersions, v)
			}
		}
	}
	return k.lib.ExportZipFile(ctx, path, sel)
}

// ExportIdentifier writes the newest trained identifier of an action into
// dir as .safetensors (usable as an embedding elsewhere) and returns its path.
func (k *Kata) ExportIdentifier(actionID int64, dir string) (string, error) {
	ctx, cancel := opContext()
	defer cancel()
	ids, err := k.lib.Identifiers(ctx, actionID)
	if err != nil {
		return "", err
	}
	var newest store.IdentifierVersion
	for _, id := range ids {
		v, err := k.lib.LatestVersion(ctx, id.ID)
		if err != nil {
			continue // an identifier without versions yet
		}
		if v.Created.After(newest.Created) {
			newest = v
		}
	}
	if newest.ID == 0 {
		return "", errors.New("this action is not trained yet: train it first")
	}
	return exportIdentifier(ctx, k.lib, newest.ID, dir, false)
}
