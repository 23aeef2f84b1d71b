package safetensors

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrChanged is returned (wrapped) when reading a memory-mapped file faults:
// another process truncated or replaced it while it was open. Without the
// guard the kernel's SIGBUS would crash the process.
var ErrChanged = errors.New("file was truncated or changed while open")

// guarded runs fn, which reads f's mapping, and turns a memory fault into an
// error wrapping ErrChanged. Other panics pass through.
func (f *File) guarded(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, fault := r.(interface{ Addr() uintptr }); fault {
				err = fmt.Errorf("%w: %s (%v)", ErrChanged, f.path, r)
				return
			}
			panic(r)
		}
	}()
	return fn()
}
