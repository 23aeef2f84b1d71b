package app

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/store"
)

func TestExportImagesAndZip(t *testing.T) {
	k, err := Open(filepath.Join(t.TempDir(), "lib"))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	var ids []int64
	for i := range 2 {
		g, err := k.Library().AddGeneration(ctx, store.Generation{Prompt: "a panda", Seed: int64(i), Sampler: "Euler a", Steps: 4, CFG: 7,
			Width: 64, Height: 64}, image.NewRGBA(image.Rect(0, 0, 64, 64)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, g.ID)
	}
	dir := t.TempDir()
	if _, err := k.ExportImages(nil, dir, "png"); err == nil || !strings.Contains(err.Error(), "no favourites") {
		t.Fatalf("no favourites: %v", err)
	}
	if _, err := k.ExportImages(ids, dir, "gif"); err == nil {
		t.Fatal("gif accepted")
	}
	if err := k.SetFavourite(ids[1], true); err != nil {
		t.Fatal(err)
	}
	files, err := k.ExportImages(nil, dir, "jpeg")
	if err != nil || len(files) != 1 || !strings.HasSuffix(files[0], ".jpg") && !strings.HasSuffix(files[0], ".jpeg") {
		t.Fatalf("favourites as JPEG: %v, %v", files, err)
	}
	if files, err = k.ExportImages(ids, t.TempDir(), "png"); err != nil || len(files) != 2 {
		t.Fatalf("selected as PNG: %v, %v", files, err)
	}
	zipPath := filepath.Join(t.TempDir(), "out.zip")
	if err := k.ExportZip(ids, zipPath); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(zipPath); err != nil || st.Size() == 0 {
		t.Fatalf("zip: %v", err)
	}
	a, _ := k.CreateAction("salute")
	if _, err := k.ExportIdentifier(a.ID, t.TempDir()); err == nil || !strings.Contains(err.Error(), "not trained") {
		t.Fatalf("untrained identifier export: %v", err)
	}
}
