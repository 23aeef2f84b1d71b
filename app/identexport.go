package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"kata/model/adi"
	"kata/store"
)

// exportIdentifier writes identifier version versionID of lib into dir and
// returns the file's path. The file is written anew by adi rather than
// copied, so a version stored in an older layout leaves in today's: TI
// identifiers in the one-key layout AUTOMATIC1111, ComfyUI and diffusers
// load, layer-wise ones in Kata's layout those tools refuse. single writes
// a layer-wise identifier as its one-vector mean instead (adi.SingleVector;
// what that loses is adi.SingleVectorLoss), named "...-single.safetensors",
// so that those tools load something; a TI identifier is written as it is.
func exportIdentifier(ctx context.Context, lib *store.Library, versionID int64, dir string, single bool) (string, error) {
	v, err := lib.IdentifierVersion(ctx, versionID)
	if err != nil {
		return "", fmt.Errorf("export identifier: %w", err)
	}
	row, err := lib.Identifier(ctx, v.IdentifierID)
	if err != nil {
		return "", fmt.Errorf("export identifier: %w", err)
	}
	id, err := adi.Load(lib.BlobPath(v.File))
	if err != nil {
		return "", fmt.Errorf("export identifier %s: %w", row.Name, err)
	}
	name := store.IdentifierFileName(row, v)
	if single && id.Method.LayerWise() {
		if id, err = adi.SingleVector(id); err != nil {
			return "", fmt.Errorf("export identifier %s: %w", row.Name, err)
		}
		name = strings.TrimSuffix(name, ".safetensors") + "-single.safetensors"
	}
	p := filepath.Join(dir, name)
	if !id.Method.LayerWise() {
		err = adi.ExportA1111(p, id)
	} else {
		err = adi.Save(p, id)
	}
	if err != nil {
		return "", err
	}
	return p, nil
}
