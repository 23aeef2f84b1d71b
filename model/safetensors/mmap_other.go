//go:build !unix

package safetensors

import "os"

// mapFile reads the whole file: memory mapping is only used on unix systems.
func mapFile(path string) ([]byte, *os.File, func() error, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer fh.Close()
	data, err := readAll(fh)
	return data, nil, nil, err
}

// evictPages does nothing where files are read into memory.
func evictPages([]byte) error { return nil }
