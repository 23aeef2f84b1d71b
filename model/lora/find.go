package lora

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
)

// Find returns the LoRA file that "<lora:name>" refers to in a LoRA folder:
// the .safetensors file whose name without extension is name, searched in
// dir and its sub-folders (as AUTOMATIC1111 indexes models/Lora). name may
// also be a path relative to dir without extension ("styles/ink"). No
// match, or the same name in two sub-folders, is an error naming them.
func Find(dir, name string) (string, error) {
	if name == "" || strings.Contains(name, "..") {
		return "", fmt.Errorf("lora %q: not a LoRA name", name)
	}
	want := filepath.FromSlash(name)
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".safetensors") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		stem := strings.TrimSuffix(rel, filepath.Ext(rel))
		if stem == want || filepath.Base(stem) == want {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("lora %q: search %s: %w", name, dir, err)
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("lora %q: no %s.safetensors in %s", name, name, dir)
	case 1:
		return found[0], nil
	}
	sort.Strings(found)
	return "", fmt.Errorf("lora %q: %d files match in %s (%s); write the sub-folder, <lora:folder/%s>",
		name, len(found), dir, strings.Join(found, ", "), name)
}
