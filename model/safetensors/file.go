package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"unsafe"
)

// littleEndianHost allows plain copies of F32 data, which safetensors
// stores little-endian.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// File is an open safetensors file. Its tensor data stays in the memory
// mapping (or the buffer read at Open) until Close; the accessors convert or
// view one tensor at a time. A File is safe for concurrent readers; Close
// must not race with them.
type File struct {
	path    string
	data    []byte // the whole file
	body    []byte // the data section
	hdr     *header
	fh      *os.File // the mapped file, read with pread by copyRaw; nil when read into memory
	release func() error
}

// Open opens and validates the safetensors file at path. On unix systems the
// file is memory-mapped read-only; elsewhere (or when mapping fails) it is
// read into memory. Every malformed header yields an error wrapping ErrInvalid.
// A mapped file truncated by another process while open makes Float32,
// Float32Into and Int64 fail with ErrChanged (the fault is caught); views
// from Bytes are not guarded.
func Open(path string) (*File, error) {
	data, fh, release, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: open %s: %w", path, err)
	}
	f, err := parse(data)
	if err != nil {
		if release != nil {
			_ = release()
		}
		return nil, fmt.Errorf("safetensors: open %s: %w", path, err)
	}
	f.path = path
	f.fh, f.release = fh, release
	return f, nil
}

// Parse validates a whole safetensors file held in memory. The File views
// data without copying it; data must stay unchanged while the File is used.
func Parse(data []byte) (*File, error) {
	f, err := parse(data)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return f, nil
}

func parse(data []byte) (*File, error) {
	hdrBytes, body, err := splitFile(data)
	if err != nil {
		return nil, err
	}
	hdr, err := parseHeader(hdrBytes, int64(len(body)))
	if err != nil {
		return nil, err
	}
	return &File{data: data, body: body, hdr: hdr}, nil
}

// Close releases the memory mapping. Slices returned by Bytes become invalid.
func (f *File) Close() error {
	f.body, f.data = nil, nil
	if f.release == nil {
		return nil
	}
	r := f.release
	f.release, f.fh = nil, nil
	if err := r(); err != nil {
		return fmt.Errorf("safetensors: close %s: %w", f.path, err)
	}
	return nil
}

// Path returns the path given to Open ("" for Parse).
func (f *File) Path() string { return f.path }

// Names returns the tensor names in sorted order (the caller may modify the slice).
func (f *File) Names() []string { return append([]string(nil), f.hdr.names...) }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.hdr.names) }

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.hdr.infos[name]
	if !ok {
		return TensorInfo{}, false
	}
	t.Shape = append([]int(nil), t.Shape...)
	return t, true
}

// Infos returns the descriptions of all tensors, sorted by name.
func (f *File) Infos() []TensorInfo {
	out := make([]TensorInfo, 0, len(f.hdr.names))
	for _, name := range f.hdr.names {
		t, _ := f.Info(name)
		out = append(out, t)
	}
	return out
}

// DataOffset returns the file offset of the data section (8 + header length).
func (f *File) DataOffset() int64 { return int64(len(f.data) - len(f.body)) }

// Metadata returns a copy of the "__metadata__" map (empty when absent).
func (f *File) Metadata() map[string]string {
	m := make(map[string]string, len(f.hdr.metadata))
	for k, v := range f.hdr.metadata {
		m[k] = v
	}
	return m
}

func (f *File) lookup(name string) (TensorInfo, []byte, error) {
	if f.body == nil && f.data == nil {
		return TensorInfo{}, nil, fmt.Errorf("safetensors: %s: file is closed", f.path)
	}
	t, ok := f.hdr.infos[name]
	if !ok {
		return TensorInfo{}, nil, fmt.Errorf("safetensors: %s: no tensor %q", f.path, name)
	}
	return t, f.body[t.Begin:t.End:t.End], nil
}

// copyRaw copies the bytes of tensor t (b, its view in the file) into dst,
// of the same length. From a mapped file it reads with pread instead of
// through the mapping: the kernel copies from the page cache straight into
// dst, without the page faults of reading the mapping (and with nothing to
// evict afterwards), and a file truncated while open gives a short read,
// an error wrapping ErrChanged. The 2 MiB-aligned part of dst is first
// advised for transparent huge pages (Linux): filling fresh memory then
// faults once per 2 MiB instead of once per 4 KiB page.
func (f *File) copyRaw(t TensorInfo, b, dst []byte) error {
	adviseHugePages(dst)
	if f.fh == nil {
		return f.guarded(func() error {
			copy(dst, b)
			return nil
		})
	}
	n, err := f.fh.ReadAt(dst, f.DataOffset()+t.Begin)
	switch {
	case n == len(dst):
		return nil
	case err == nil || errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %s (read %d of %d bytes)", ErrChanged, f.path, n, len(dst))
	}
	return err
}

// Bytes returns the raw little-endian data of the named tensor. It is a view
// into the mapping: read-only, and valid until Close.
func (f *File) Bytes(name string) ([]byte, error) {
	_, b, err := f.lookup(name)
	return b, err
}

// Float32 converts the named tensor to a new float32 slice and returns it with
// its shape. Floating types (F64, F32, F16, BF16, F8_*) and integer/bool types
// are accepted; F64 and 64-bit integers round to the nearest float32.
func (f *File) Float32(name string) ([]float32, []int, error) {
	t, b, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, t.NumElements())
	if err := f.readFloat32(t, b, out); err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return out, append([]int(nil), t.Shape...), nil
}

// Float32Into converts the named tensor into dst, which must hold exactly its
// number of elements; it lets callers reuse buffers when streaming a large
// checkpoint tensor by tensor.
func (f *File) Float32Into(name string, dst []float32) error {
	t, b, err := f.lookup(name)
	if err != nil {
		return err
	}
	if len(dst) != t.NumElements() {
		return fmt.Errorf("safetensors: %s: tensor %q has %d elements, destination %d", f.path, name, t.NumElements(), len(dst))
	}
	if err := f.readFloat32(t, b, dst); err != nil {
		return fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return nil
}

// Int64 converts the named integer or bool tensor to a new int64 slice and
// returns it with its shape. Floating types are refused; U64 values above
// math.MaxInt64 give an error.
func (f *File) Int64(name string) ([]int64, []int, error) {
	t, b, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]int64, t.NumElements())
	if err := f.guarded(func() error { return decodeInt64(out, t.DType, b) }); err != nil {
		return nil, nil, fmt.Errorf("safetensors: %s: tensor %q: %w", f.path, name, err)
	}
	return out, append([]int(nil), t.Shape...), nil
}

// readFloat32 converts tensor t (b, its view in the file) into out: a
// plain copy (copyRaw) for F32 on a little-endian host, whose bytes are
// already the host's float32 layout, else decoded from the mapping.
func (f *File) readFloat32(t TensorInfo, b []byte, out []float32) error {
	if t.DType == F32 && littleEndianHost && len(out) > 0 {
		return f.copyRaw(t, b, unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*len(out)))
	}
	return f.guarded(func() error { return decodeFloat32(out, t.DType, b) })
}

func decodeFloat32(out []float32, dt DType, b []byte) error {
	le := binary.LittleEndian
	switch dt {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case F16:
		table := f16Table()
		for i := range out {
			out[i] = table[le.Uint16(b[2*i:])]
		}
	case BF16:
		for i := range out {
			out[i] = BFloat16ToFloat32(le.Uint16(b[2*i:]))
		}
	case F8E4M3:
		for i := range out {
			out[i] = Float8E4M3ToFloat32(b[i])
		}
	case F8E5M2:
		for i := range out {
			out[i] = Float8E5M2ToFloat32(b[i])
		}
	default:
		ints := make([]int64, len(out))
		if err := decodeInt64(ints, dt, b); err != nil {
			return err
		}
		for i, v := range ints {
			out[i] = float32(v)
		}
	}
	return nil
}

func decodeInt64(out []int64, dt DType, b []byte) error {
	le := binary.LittleEndian
	switch dt {
	case I64:
		for i := range out {
			out[i] = int64(le.Uint64(b[8*i:]))
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(b[2*i:])))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(b[i]))
		}
	case U64:
		for i := range out {
			v := le.Uint64(b[8*i:])
			if v > math.MaxInt64 {
				return fmt.Errorf("U64 value %d at index %d overflows int64", v, i)
			}
			out[i] = int64(v)
		}
	case U32:
		for i := range out {
			out[i] = int64(le.Uint32(b[4*i:]))
		}
	case U16:
		for i := range out {
			out[i] = int64(le.Uint16(b[2*i:]))
		}
	case U8:
		for i := range out {
			out[i] = int64(b[i])
		}
	case Bool:
		for i := range out {
			if b[i] != 0 {
				out[i] = 1
			} else {
				out[i] = 0
			}
		}
	default:
		return fmt.Errorf("cannot convert %s to integers", dt)
	}
	return nil
}

// f16Table maps every half-precision bit pattern to its float32 value; a
// 256 KiB lookup converts large F16 checkpoints several times faster than
// decoding the bits of each value.
var f16Table = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = Float16ToFloat32(uint16(i))
	}
	return &t
})
