package backend

import (
	"errors"
	"fmt"
	"testing"
)

func TestIsOutOfMemory(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 2684354560 bytes."), true},
		{fmt.Errorf("loss and gradient: %w", errors.New("pjrt: Execute: RESOURCE_EXHAUSTED: Failed to allocate request for 1.25GiB (1342177280B) on device ordinal 0")), true},
		{errors.New("CUDA_ERROR_OUT_OF_MEMORY: out of memory"), true},
		{errors.New("cudaErrorMemoryAllocation"), true},
		{fmt.Errorf("step 3: %w", ErrOutOfMemory), true},
		{errors.New("INVALID_ARGUMENT: shapes f32[2,3] and f32[3,2] differ"), false},
		{errors.New("open /tmp/x: no such file or directory"), false},
		{errors.New("UNAVAILABLE: CUDA driver version is insufficient"), false},
	} {
		if got := IsOutOfMemory(c.err); got != c.want {
			t.Errorf("IsOutOfMemory(%v) = %v, want %v", c.err, got, c.want)
		}
		marked := OutOfMemory(c.err)
		if got := errors.Is(marked, ErrOutOfMemory); got != c.want {
			t.Errorf("errors.Is(OutOfMemory(%v), ErrOutOfMemory) = %v, want %v", c.err, got, c.want)
		}
		if c.err != nil && marked.Error() != c.err.Error() {
			t.Errorf("OutOfMemory changed the text: %q, want %q", marked, c.err)
		}
		if c.err != nil && !errors.Is(marked, c.err) {
			t.Errorf("OutOfMemory(%v) no longer wraps it", c.err)
		}
	}
}
