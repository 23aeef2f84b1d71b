package ui

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the tests a cache folder of their own: every test window
// adds the built-in model, which the first use writes to the user's cache
// (app.BuiltinModelPath), and a test run must not write into the real one.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kata-ui-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
