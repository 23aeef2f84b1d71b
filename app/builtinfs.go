package app

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// shippedModelDir returns the folder holding the model files of fsys (a
// diffusers folder at its root) under cacheDir, writing it there the first
// time: cacheDir/builtin-HASH, HASH naming the content, so a build with
// other weights gets another folder and the library tells them apart by
// path. The folder is written beside its final name and renamed into place,
// so a killed first start leaves no half-written model; an existing folder
// is used when every file has the shipped size.
func shippedModelDir(fsys fs.FS, cacheDir string) (string, error) {
	var files []string
	if err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}); err != nil {
		return "", fmt.Errorf("built-in model: %w", err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("built-in model: no files embedded")
	}
	sort.Strings(files)
	h := sha256.New()
	sizes := map[string]int64{}
	for _, p := range files {
		f, err := fsys.Open(p)
		if err != nil {
			return "", fmt.Errorf("built-in model: %w", err)
		}
		fmt.Fprintf(h, "%s\x00", p)
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("built-in model: %s: %w", p, err)
		}
		sizes[p] = n
	}
	dir := filepath.Join(cacheDir, "builtin-"+hex.EncodeToString(h.Sum(nil))[:16])
	if complete(dir, sizes) {
		return dir, nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return "", fmt.Errorf("built-in model: %w", err)
	}
	tmp, err := os.MkdirTemp(cacheDir, ".builtin-*")
	if err != nil {
		return "", fmt.Errorf("built-in model: %w", err)
	}
	defer os.RemoveAll(tmp) // after a successful rename it is gone already
	for _, p := range files {
		if err := copyOut(fsys, p, filepath.Join(tmp, filepath.FromSlash(p))); err != nil {
			return "", fmt.Errorf("built-in model: %w", err)
		}
	}
	os.RemoveAll(dir) // an incomplete earlier copy (a file truncated or removed)
	if err := os.Rename(tmp, dir); err != nil {
		if complete(dir, sizes) { // another Kata process won the race
			return dir, nil
		}
		return "", fmt.Errorf("built-in model: %w", err)
	}
	return dir, nil
}

// complete reports whether dir holds every file of sizes with that size.
func complete(dir string, sizes map[string]int64) bool {
	for p, n := range sizes {
		st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil || st.Size() != n {
			return false
		}
	}
	return true
}

// copyOut writes fsys's file p to dst, creating its folder.
func copyOut(fsys fs.FS, p, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	src, err := fsys.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, src); err != nil {
		out.Close()
		return fmt.Errorf("%s: %w", path.Base(p), err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
