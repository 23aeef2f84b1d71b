//go:build plan9 || js || wasip1

package store

import "os"

// lockFile is a no-op where the OS has no advisory locks: the library then
// assumes a single process.
func lockFile(f *os.File, exclusive, wait bool) (bool, error) { return true, nil }

func unlockFile(f *os.File) error { return nil }
