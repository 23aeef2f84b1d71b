package store

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// EnvLibrary names the environment variable that overrides the default
// library directory (the `--library` flag overrides both).
const EnvLibrary = "KATA_LIBRARY"

// DefaultDir returns the library directory to use when none is given:
// $KATA_LIBRARY when set, else the per-user data directory of the OS:
// $XDG_DATA_HOME/kata or ~/.local/share/kata on Linux and BSD,
// ~/Library/Application Support/Kata on macOS, %AppData%\Kata on Windows.
func DefaultDir() (string, error) {
	if d := strings.TrimSpace(os.Getenv(EnvLibrary)); d != "" {
		return filepath.Abs(d)
	}
	switch runtime.GOOS {
	case "windows", "darwin", "ios":
		// os.UserConfigDir is %AppData% and ~/Library/Application Support there,
		// which is where those systems keep per-user application data.
		base, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(base, "Kata"), nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "kata"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("no library directory: set $KATA_LIBRARY or $HOME")
	}
	return filepath.Join(home, ".local", "share", "kata"), nil
}
