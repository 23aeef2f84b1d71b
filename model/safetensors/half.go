package safetensors

import (
	"fmt"
	"unsafe"
)

// HalfInto copies the named F16 or BF16 tensor's raw bits into dst (one
// uint16 per element, host order) and returns its dtype; other dtypes are
// refused (read them with Float32Into). It lets a loader keep half-precision
// weights as stored instead of widening them to float32. A mapped file
// truncated while open gives an error wrapping ErrChanged.
func (f *File) HalfInto(name string, dst []uint16) (DType, error) {
	t, b, err := f.lookup(name)
	if err != nil {
		return invalid, err
	}
	if t.DType != F16 && t.DType != BF16 {
		return invalid, fmt.Errorf("safetensors: %s: tensor %q is %s, not F16 or BF16", f.path, name, t.DType)
	}
	if len(dst) != t.NumElements() {
		return invalid, fmt.Errorf("safetensors: %s: tensor %q has %d elements, destination %d", f.path, name, t.NumElements(), len(dst))
	}
	if littleEndianHost && len(dst) > 0 {
		err = f.copyRaw(t, b, unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 2*len(dst)))
	} else {
		err = f.guarded(func() error {
			for i := range dst {
				dst[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
			}
			return nil
		})
	}
	if err != nil {
		return invalid, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return t.DType, nil
}

// HalfToFloat32 widens IEEE half-precision bits to float32 (dst and src of the
// same length) through a 256 KiB table, exactly (subnormals, infinities, NaN).
func HalfToFloat32(dst []float32, src []uint16) {
	table := f16Table()
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = table[h]
	}
}

// Evict tells the kernel that the named tensor's pages of a memory-mapped file
// are not needed any more, so they leave the process's resident set (they
// stay in the page cache; a later read faults them in again). A loader that
// copies a checkpoint tensor by tensor calls it after each copy, so that the
// mapping and the copies are not resident together. It does nothing for a
// file read into memory.
func (f *File) Evict(name string) error {
	if f.release == nil {
		return nil
	}
	_, b, err := f.lookup(name)
	if err != nil {
		return err
	}
	return evictPages(b)
}
