package safetensors

import (
	"io"
	"os"
)

// readAll reads the rest of fh into memory (the garbage collector owns the
// buffer: there is nothing to release).
func readAll(fh *os.File) ([]byte, error) {
	return io.ReadAll(fh)
}
