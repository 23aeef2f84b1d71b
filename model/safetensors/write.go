package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"kata/store/atomicfile"
)

// Tensor is one tensor to write: raw little-endian row-major data of the
// given dtype and shape.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32Tensor packs float32 values as an F32 tensor. len(data) must equal the
// product of shape (Encode checks it).
func F32Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: F32, Shape: append([]int(nil), shape...), Data: b}
}

// F16Tensor rounds float32 values to half precision (nearest even).
func F16Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToFloat16(v))
	}
	return Tensor{Name: name, DType: F16, Shape: append([]int(nil), shape...), Data: b}
}

// BF16Tensor rounds float32 values to bfloat16 (nearest even).
func BF16Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 2*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint16(b[2*i:], Float32ToBFloat16(v))
	}
	return Tensor{Name: name, DType: BF16, Shape: append([]int(nil), shape...), Data: b}
}

// I64Tensor packs int64 values as an I64 tensor.
func I64Tensor(name string, shape []int, data []int64) Tensor {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return Tensor{Name: name, DType: I64, Shape: append([]int(nil), shape...), Data: b}
}

type headerEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// Encode writes tensors and metadata in safetensors format. Tensors are laid
// out in name order whatever their order in the slice; the header is padded
// with spaces to a multiple of 8 bytes so tensor data stays 8-byte aligned
// relative to the file start. Names must be unique, non-empty and not
// "__metadata__", and each Data must match its dtype and shape.
func Encode(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	sorted := append([]Tensor(nil), tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	entries := make(map[string]any, len(sorted)+1)
	if len(metadata) > 0 {
		entries[metadataKey] = metadata
	}
	var pos int64
	for i, t := range sorted {
		if t.Name == "" || t.Name == metadataKey {
			return fmt.Errorf("safetensors: encode: invalid tensor name %q", t.Name)
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return fmt.Errorf("safetensors: encode: duplicate tensor name %q", t.Name)
		}
		n, err := byteCount(t.DType, t.Shape, math.MaxInt64)
		if err != nil {
			return fmt.Errorf("safetensors: encode tensor %q: %w", t.Name, err)
		}
		if int64(len(t.Data)) != n {
			return fmt.Errorf("safetensors: encode tensor %q: %s%v needs %d bytes, got %d", t.Name, t.DType, t.Shape, n, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		entries[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{pos, pos + n}}
		pos += n
	}
	hdr, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("safetensors: encode header: %w", err)
	}
	for (8+len(hdr))%8 != 0 {
		hdr = append(hdr, ' ')
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(hdr)))
	if _, err := w.Write(prefix[:]); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("safetensors: encode: %w", err)
	}
	for _, t := range sorted {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: encode tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// Write saves tensors to path atomically (store/atomicfile: temporary file
// beside it, fsync, rename, directory fsync; mode 0644), so a crash leaves
// either the old file or the complete new one.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	if err := atomicfile.Write(path, func(w io.Writer) error { return Encode(w, tensors, metadata) }); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
