//go:build !unix

package safetensors

import "os"

// mapFile reads the whole file: memory mapping is only used on unix systems.
func mapFile(path string) ([]byte, func() error, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer fh.Close()
	return readAll(fh)
}

// evictPages does nothing where files are read into memory.
func evictPages([]byte) error { return nil }
