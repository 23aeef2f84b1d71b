package app

import (
	"fmt"
	"os"
	"path/filepath"
)

// ensureDir creates dir (and its parents) for a command's output and checks
// that files can be written there, so that a folder that cannot be made or
// written fails before any work starts, not after an hour of training.
func ensureDir(dir string) error {
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	f, err := os.CreateTemp(dir, ".kata-write-check-*")
	if err != nil {
		return fmt.Errorf("output folder %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// ensureDirsOf runs ensureDir on the folder of each non-empty file path.
func ensureDirsOf(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := ensureDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// trainStateExt is the extension of `kata train`'s resumable training state
// (a safetensors file of vectors, optimiser state, RNG and step): not
// ".ckpt", which designers read as a pickled model checkpoint.
const trainStateExt = ".kata-train"
