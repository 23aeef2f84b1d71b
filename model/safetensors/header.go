package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"unicode/utf8"
)

// MaxHeaderSize bounds the JSON header length, as the reference implementation
// does, so a hostile length cannot make the reader allocate gigabytes.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key holding free-form string metadata.
const metadataKey = "__metadata__"

// ErrInvalid is wrapped by every error about a malformed file or header, so
// callers can tell corrupt input from I/O failures with errors.Is.
var ErrInvalid = errors.New("invalid safetensors data")

// TensorInfo describes one tensor of a file. Begin and End are the byte range
// of its data relative to the start of the data section (after the header).
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	Begin int64
	End   int64
}

// NumElements returns the number of elements of the tensor.
func (t TensorInfo) NumElements() int { return NumElements(t.Shape) }

// header is the parsed and validated JSON header.
type header struct {
	infos    map[string]TensorInfo
	names    []string // sorted
	metadata map[string]string
}

type rawEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// splitFile checks the 8-byte length prefix of a whole file and returns the
// header bytes and the data section.
func splitFile(data []byte) (hdr, body []byte, err error) {
	if len(data) < 8 {
		return nil, nil, invalidf("file of %d bytes is shorter than the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if (n > MaxHeaderSize || n > uint64(len(data)-8)) && looksLikePickle(data) {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, ErrPickle)
	}
	if n > MaxHeaderSize {
		return nil, nil, invalidf("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, nil, invalidf("header length %d exceeds the %d bytes after the length prefix (truncated file?)", n, len(data)-8)
	}
	return data[8 : 8+n], data[8+n:], nil
}

// parseHeader parses the JSON header and validates it against a data section
// of dataLen bytes: known dtypes, non-negative shapes, byte ranges matching
// the shapes, and ranges that tile the data section exactly (no overlap, no
// hole, nothing past the end), as the format specification requires.
func parseHeader(hdr []byte, dataLen int64) (*header, error) {
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, invalidf("header does not start with '{'")
	}
	if !utf8.Valid(hdr) {
		return nil, invalidf("header is not valid UTF-8")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, invalidf("header JSON: %v", err)
	}
	// Only spaces may follow the JSON object (writers pad the header to 8 bytes).
	rest := hdr[dec.InputOffset():]
	if len(bytes.TrimRight(rest, " ")) != 0 {
		return nil, invalidf("unexpected bytes after the header JSON object")
	}
	h := &header{infos: make(map[string]TensorInfo, len(raw))}
	for name, msg := range raw {
		if name == metadataKey {
			if err := json.Unmarshal(msg, &h.metadata); err != nil {
				return nil, invalidf("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		info, err := parseEntry(name, msg, dataLen)
		if err != nil {
			return nil, err
		}
		h.infos[name] = info
		h.names = append(h.names, name)
	}
	sort.Strings(h.names)
	if err := checkTiling(h, dataLen); err != nil {
		return nil, err
	}
	return h, nil
}

func parseEntry(name string, msg json.RawMessage, dataLen int64) (TensorInfo, error) {
	var e rawEntry
	if err := json.Unmarshal(msg, &e); err != nil {
		return TensorInfo{}, invalidf("tensor %q: %v", name, err)
	}
	if e.DType == nil || e.Shape == nil || e.DataOffsets == nil {
		return TensorInfo{}, invalidf("tensor %q: dtype, shape and data_offsets are required", name)
	}
	dt := DType(*e.DType)
	if !dt.Valid() {
		return TensorInfo{}, invalidf("tensor %q: unknown dtype %q", name, *e.DType)
	}
	shape := make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 || d > int64(maxInt) {
			return TensorInfo{}, invalidf("tensor %q: bad dimension %d", name, d)
		}
		shape[i] = int(d)
	}
	offs := *e.DataOffsets
	if len(offs) != 2 {
		return TensorInfo{}, invalidf("tensor %q: data_offsets must hold 2 numbers, got %d", name, len(offs))
	}
	begin, end := offs[0], offs[1]
	if begin < 0 || end < begin || end > dataLen {
		return TensorInfo{}, invalidf("tensor %q: data_offsets [%d, %d] outside the %d-byte data section", name, begin, end, dataLen)
	}
	want, err := byteCount(dt, shape, math.MaxInt64)
	if err != nil {
		return TensorInfo{}, invalidf("tensor %q: %v", name, err)
	}
	if end-begin != want {
		return TensorInfo{}, invalidf("tensor %q: %s%v needs %d bytes but data_offsets [%d, %d] hold %d", name, dt, shape, want, begin, end, end-begin)
	}
	return TensorInfo{Name: name, DType: dt, Shape: shape, Begin: begin, End: end}, nil
}

const maxInt = int(^uint(0) >> 1)

// checkTiling verifies that the tensors' byte ranges, in offset order, follow
// one another without overlap or hole and end exactly at the data section's end.
func checkTiling(h *header, dataLen int64) error {
	order := make([]TensorInfo, 0, len(h.infos))
	for _, name := range h.names {
		order = append(order, h.infos[name])
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].Begin != order[j].Begin {
			return order[i].Begin < order[j].Begin
		}
		return order[i].End < order[j].End
	})
	var pos int64
	prev := ""
	for _, t := range order {
		switch {
		case t.Begin < pos:
			return invalidf("tensor %q [%d, %d] overlaps tensor %q ending at %d", t.Name, t.Begin, t.End, prev, pos)
		case t.Begin > pos:
			return invalidf("hole of %d bytes in the data section before tensor %q at %d", t.Begin-pos, t.Name, t.Begin)
		}
		pos = t.End
		prev = t.Name
	}
	if pos != dataLen {
		return invalidf("tensors cover %d bytes but the data section holds %d", pos, dataLen)
	}
	return nil
}
