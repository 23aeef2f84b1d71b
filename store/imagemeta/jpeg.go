package imagemeta

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"unicode/utf16"
	"unicode/utf8"
)

// EXIF tags Kata reads and writes.
const (
	tagExifIFD     = 0x8769
	tagUserComment = 0x9286
	tagOrientation = 0x0112
	typeShort      = 3
	typeLong       = 4
	typeUndefined  = 7
	maxSegment     = 0xffff - 2 // payload bytes of one JPEG marker segment
)

var (
	exifHeader    = []byte("Exif\x00\x00")
	unicodePrefix = []byte("UNICODE\x00")
	asciiPrefix   = []byte("ASCII\x00\x00\x00")
)

// EncodeJPEG writes img as JPEG at the given quality (1-100) with the
// parameters text of s in the EXIF UserComment, encoded as AUTOMATIC1111 does
// through piexif: big-endian TIFF, "UNICODE\0" prefix, UTF-16BE text. The text
// must fit one APP1 segment (about 32,000 characters).
func EncodeJPEG(w io.Writer, img image.Image, quality int, s Settings) error {
	if quality < 1 || quality > 100 {
		return fmt.Errorf("encode jpeg: quality %d outside 1..100", quality)
	}
	app1, err := exifUserComment(s.Parameters())
	if err != nil {
		return fmt.Errorf("encode jpeg: %w", err)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		return fmt.Errorf("encode jpeg: %w", err)
	}
	data := buf.Bytes()
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xd8 {
		return errors.New("encode jpeg: encoder output lacks SOI")
	}
	for _, b := range [][]byte{data[:2], app1, data[2:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// exifUserComment builds a complete APP1 segment (marker included) whose EXIF
// holds IFD0 -> Exif IFD -> UserComment.
func exifUserComment(text string) ([]byte, error) {
	u := utf16.Encode([]rune(text))
	comment := make([]byte, len(unicodePrefix)+2*len(u))
	copy(comment, unicodePrefix)
	for i, c := range u {
		binary.BigEndian.PutUint16(comment[len(unicodePrefix)+2*i:], c)
	}
	be := binary.BigEndian
	tiff := make([]byte, 44, 44+len(comment))
	copy(tiff, "MM")
	be.PutUint16(tiff[2:], 42)
	be.PutUint32(tiff[4:], 8)
	// IFD0 at 8: one entry pointing at the Exif IFD at 26.
	be.PutUint16(tiff[8:], 1)
	putEntry(be, tiff[10:], tagExifIFD, typeLong, 1, 26)
	be.PutUint32(tiff[22:], 0)
	// Exif IFD at 26: UserComment, data at 44.
	be.PutUint16(tiff[26:], 1)
	putEntry(be, tiff[28:], tagUserComment, typeUndefined, uint32(len(comment)), 44)
	be.PutUint32(tiff[40:], 0)
	tiff = append(tiff, comment...)
	payload := len(exifHeader) + len(tiff)
	if payload > maxSegment {
		return nil, fmt.Errorf("parameters text of %d characters does not fit a JPEG EXIF segment", len(u))
	}
	seg := make([]byte, 0, 4+payload)
	seg = append(seg, 0xff, 0xe1, byte((payload+2)>>8), byte(payload+2))
	seg = append(seg, exifHeader...)
	return append(seg, tiff...), nil
}

func putEntry(bo binary.ByteOrder, b []byte, tag, typ uint16, count, value uint32) {
	bo.PutUint16(b, tag)
	bo.PutUint16(b[2:], typ)
	bo.PutUint32(b[4:], count)
	bo.PutUint32(b[8:], value)
}

// ReadJPEG returns the settings in a JPEG's EXIF UserComment (the A1111
// parameters text). It returns an error wrapping ErrNoSettings when there is
// none.
func ReadJPEG(r io.Reader) (Settings, error) {
	exif, err := ReadJPEGExif(r)
	if err != nil {
		return Settings{}, err
	}
	if exif == nil {
		return Settings{}, fmt.Errorf("read jpeg: %w", ErrNoSettings)
	}
	t, err := parseTIFF(exif)
	if err != nil {
		return Settings{}, fmt.Errorf("read jpeg: exif: %w", err)
	}
	if t.userComment == nil {
		return Settings{}, fmt.Errorf("read jpeg: %w", ErrNoSettings)
	}
	return ParseParameters(decodeUserComment(t.userComment))
}

// JPEGOrientation returns the EXIF orientation (1-8) of a JPEG, 1 when absent.
func JPEGOrientation(r io.Reader) (int, error) {
	exif, err := ReadJPEGExif(r)
	if err != nil || exif == nil {
		return 1, err
	}
	t, err := parseTIFF(exif)
	if err != nil || t.orientation < 1 || t.orientation > 8 {
		return 1, nil
	}
	return t.orientation, nil
}

// ReadJPEGExif returns the TIFF data of the first EXIF APP1 segment, or nil
// when the file has none. It stops reading at the start of the image data.
func ReadJPEGExif(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	var soi [2]byte
	if _, err := io.ReadFull(br, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return nil, errors.New("read jpeg: not a JPEG file")
	}
	for {
		b, err := br.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("read jpeg: truncated file: %w", err)
		}
		if b != 0xff {
			return nil, fmt.Errorf("read jpeg: expected marker, found 0x%02x", b)
		}
		marker := byte(0xff)
		for marker == 0xff { // fill bytes
			if marker, err = br.ReadByte(); err != nil {
				return nil, fmt.Errorf("read jpeg: truncated file: %w", err)
			}
		}
		switch {
		case marker == 0xd9 || marker == 0xda: // EOI, SOS: no more metadata
			return nil, nil
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7):
			continue // standalone markers
		}
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return nil, fmt.Errorf("read jpeg: truncated file: %w", err)
		}
		n := int(binary.BigEndian.Uint16(l[:])) - 2
		if n < 0 {
			return nil, fmt.Errorf("read jpeg: bad segment length")
		}
		seg := make([]byte, n)
		if _, err := io.ReadFull(br, seg); err != nil {
			return nil, fmt.Errorf("read jpeg: truncated segment: %w", err)
		}
		if marker == 0xe1 && bytes.HasPrefix(seg, exifHeader) {
			return seg[len(exifHeader):], nil
		}
	}
}

type tiffInfo struct {
	userComment []byte
	orientation int
}

// parseTIFF walks IFD0 and the Exif IFD of an EXIF TIFF block with bounds
// checks on every offset.
func parseTIFF(b []byte) (tiffInfo, error) {
	var info tiffInfo
	if len(b) < 8 {
		return info, errors.New("short TIFF header")
	}
	var bo binary.ByteOrder
	switch string(b[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return info, errors.New("bad TIFF byte order")
	}
	if bo.Uint16(b[2:]) != 42 {
		return info, errors.New("bad TIFF magic")
	}
	type entry struct {
		tag, typ     uint16
		count, value uint32
	}
	readIFD := func(off uint32) ([]entry, error) {
		if uint64(off)+2 > uint64(len(b)) {
			return nil, errors.New("IFD offset out of range")
		}
		n := int(bo.Uint16(b[off:]))
		if uint64(off)+2+uint64(n)*12 > uint64(len(b)) {
			return nil, errors.New("IFD runs past the data")
		}
		es := make([]entry, n)
		for i := range es {
			p := b[int(off)+2+12*i:]
			es[i] = entry{bo.Uint16(p), bo.Uint16(p[2:]), bo.Uint32(p[4:]), bo.Uint32(p[8:])}
		}
		return es, nil
	}
	ifd0, err := readIFD(bo.Uint32(b[4:]))
	if err != nil {
		return info, err
	}
	for _, e := range ifd0 {
		switch e.tag {
		case tagOrientation:
			if e.typ == typeShort {
				// A SHORT value sits left-justified in the 4-byte field.
				var v [4]byte
				bo.PutUint32(v[:], e.value)
				info.orientation = int(bo.Uint16(v[:]))
			}
		case tagExifIFD:
			sub, err := readIFD(e.value)
			if err != nil {
				return info, fmt.Errorf("exif IFD: %w", err)
			}
			for _, s := range sub {
				if s.tag != tagUserComment || s.typ != typeUndefined {
					continue
				}
				if s.count <= 4 {
					continue // too short to hold the 8-byte charset prefix
				}
				if uint64(s.value)+uint64(s.count) > uint64(len(b)) {
					return info, errors.New("UserComment runs past the data")
				}
				info.userComment = b[s.value : s.value+s.count]
			}
		}
	}
	return info, nil
}

// decodeUserComment decodes an EXIF UserComment: 8 bytes naming the charset,
// then the text. For "UNICODE" the byte order varies between writers (piexif
// always writes big-endian, others follow the TIFF order), so it uses a BOM or
// else the order whose high bytes are mostly zero.
func decodeUserComment(c []byte) string {
	if len(c) < 8 {
		return string(bytes.TrimRight(c, "\x00"))
	}
	prefix, data := c[:8], c[8:]
	switch {
	case bytes.Equal(prefix, unicodePrefix):
		return decodeUTF16(data)
	case bytes.Equal(prefix, asciiPrefix):
		return string(bytes.TrimRight(data, "\x00"))
	default:
		data = bytes.TrimRight(data, "\x00")
		if utf8.Valid(data) {
			return string(data)
		}
		return string(bytes.ToValidUTF8(data, []byte("\uFFFD")))
	}
}

func decodeUTF16(data []byte) string {
	if len(data)%2 == 1 {
		data = data[:len(data)-1]
	}
	var bo binary.ByteOrder = binary.BigEndian
	switch {
	case len(data) >= 2 && data[0] == 0xfe && data[1] == 0xff:
		data = data[2:]
	case len(data) >= 2 && data[0] == 0xff && data[1] == 0xfe:
		bo, data = binary.LittleEndian, data[2:]
	default:
		var zeroEven, zeroOdd int
		for i := 0; i+1 < len(data); i += 2 {
			if data[i] == 0 {
				zeroEven++
			}
			if data[i+1] == 0 {
				zeroOdd++
			}
		}
		if zeroOdd > zeroEven {
			bo = binary.LittleEndian
		}
	}
	u := make([]uint16, len(data)/2)
	for i := range u {
		u[i] = bo.Uint16(data[2*i:])
	}
	for len(u) > 0 && u[len(u)-1] == 0 {
		u = u[:len(u)-1]
	}
	return string(utf16.Decode(u))
}
