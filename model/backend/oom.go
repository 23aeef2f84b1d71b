package backend

import (
	"errors"
	"strings"
)

// ErrOutOfMemory is matched (errors.Is) by the errors OutOfMemory returns:
// the device, or XLA's allocator on it, ran out of memory.
var ErrOutOfMemory = errors.New("out of memory")

// OutOfMemoryAdvice says what a user can do about ErrOutOfMemory.
const OutOfMemoryAdvice = "close other programs that use the GPU, or run on the CPU " +
	"(Settings > Run models on: CPU, --backend go, or KATA_BACKEND=go), or use a lower resolution"

// oomMarkers are the texts by which XLA/PJRT and CUDA report an allocation
// failure. GoMLX passes PJRT's status message through, e.g.
// "RESOURCE_EXHAUSTED: Out of memory while trying to allocate 2.50GiB".
var oomMarkers = []string{
	"resource_exhausted",
	"resource exhausted",
	"out of memory",
	"cuda_error_out_of_memory",
	"cudaerrormemoryallocation",
	"failed to allocate",
	"allocator ran out",
}

// IsOutOfMemory reports whether err is ErrOutOfMemory or reads like an
// allocation failure of XLA, PJRT or CUDA (RESOURCE_EXHAUSTED, "Out of
// memory while trying to allocate", CUDA_ERROR_OUT_OF_MEMORY). nil is not.
func IsOutOfMemory(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrOutOfMemory) {
		return true
	}
	msg := strings.ToLower(err.Error())
	for _, m := range oomMarkers {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// OutOfMemory returns err marked with ErrOutOfMemory when IsOutOfMemory(err),
// its text unchanged; any other error (or nil) is returned as it is.
func OutOfMemory(err error) error {
	if err == nil || errors.Is(err, ErrOutOfMemory) || !IsOutOfMemory(err) {
		return err
	}
	return &oomError{err: err}
}

type oomError struct{ err error }

func (e *oomError) Error() string   { return e.err.Error() }
func (e *oomError) Unwrap() []error { return []error{e.err, ErrOutOfMemory} }
