package app

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// profileEnv names the environment variable that makes Main write a CPU
// profile of the sub-command it runs (go tool pprof reads it), so that a
// slow run of the real binary can be looked into without another main.
const profileEnv = "KATA_CPUPROFILE"

// startProfile starts a CPU profile into path (created or truncated; the
// user named it) and returns the function that stops it and closes the file.
// An empty path profiles nothing.
func startProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile %s: %w", path, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cpu profile %s: %w", path, err)
		}
		return nil
	}, nil
}
