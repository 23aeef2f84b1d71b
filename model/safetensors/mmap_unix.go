//go:build unix

package safetensors

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapFile maps path read-only and returns the mapping, the open file (kept
// for reads with pread, see File.copyRaw) and the function that releases
// both. Files the kernel refuses to map (pipes, some network file systems)
// are read into memory instead (no file, nil release).
func mapFile(path string) ([]byte, *os.File, func() error, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, nil, err
	}
	size := st.Size()
	if !st.Mode().IsRegular() || size == 0 || size != int64(int(size)) {
		defer fh.Close()
		data, err := readAll(fh)
		return data, nil, nil, err
	}
	data, err := unix.Mmap(int(fh.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		defer fh.Close()
		data, err := readAll(fh)
		return data, nil, nil, err
	}
	return data, fh, func() error { return errors.Join(unix.Munmap(data), fh.Close()) }, nil
}

// evictPages drops the whole pages inside b (a view into a read-only shared
// mapping) from the resident set with MADV_DONTNEED; partial pages at the
// ends are kept, they hold the neighbouring tensors too.
func evictPages(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	page := uintptr(unix.Getpagesize())
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + page - 1) &^ (page - 1)
	hi := (start + uintptr(len(b))) &^ (page - 1)
	if hi <= lo {
		return nil
	}
	off := lo - start
	if err := unix.Madvise(b[off:off+hi-lo], unix.MADV_DONTNEED); err != nil {
		return fmt.Errorf("safetensors: evict pages: %w", err)
	}
	return nil
}
