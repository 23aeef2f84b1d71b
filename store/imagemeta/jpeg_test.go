package imagemeta

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image/jpeg"
	"reflect"
	"testing"
	"unicode/utf16"
)

func TestJPEGRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeJPEG(&buf, testImage(64, 48), 90, fullSettings); err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if img.Bounds().Dx() != 64 || img.Bounds().Dy() != 48 {
		t.Errorf("size %v", img.Bounds())
	}
	got, err := ReadJPEG(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fullSettings) {
		t.Errorf("got  %#v\nwant %#v", got, fullSettings)
	}
	// piexif's layout: big-endian TIFF, "UNICODE\0", UTF-16BE.
	want := append([]byte("UNICODE\x00"), 0, 'a', 0, ' ', 0, 'r')
	if !bytes.Contains(buf.Bytes(), want) {
		t.Error("UserComment not UTF-16BE with UNICODE prefix")
	}
}

func TestEncodeJPEGErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeJPEG(&buf, testImage(4, 4), 0, Settings{}); err == nil {
		t.Error("quality 0 accepted")
	}
	long := Settings{Prompt: string(bytes.Repeat([]byte("x"), 40000))}
	if err := EncodeJPEG(&buf, testImage(4, 4), 80, long); err == nil {
		t.Error("40k prompt accepted into one APP1 segment")
	}
}

// exifJPEG builds a JPEG whose APP1 holds a little-endian TIFF with the
// orientation in IFD0 and a UserComment of the given bytes, as cameras and
// exiftool write them.
func exifJPEG(t *testing.T, orientation uint16, comment []byte) []byte {
	t.Helper()
	le := binary.LittleEndian
	tiff := make([]byte, 8+2+2*12+4)
	copy(tiff, "II")
	le.PutUint16(tiff[2:], 42)
	le.PutUint32(tiff[4:], 8)
	le.PutUint16(tiff[8:], 2)
	putEntry(le, tiff[10:], tagOrientation, typeShort, 1, uint32(orientation))
	exifOff := uint32(len(tiff))
	putEntry(le, tiff[22:], tagExifIFD, typeLong, 1, exifOff)
	sub := make([]byte, 2+12+4)
	le.PutUint16(sub, 1)
	putEntry(le, sub[2:], tagUserComment, typeUndefined, uint32(len(comment)), exifOff+uint32(len(sub)))
	tiff = append(append(tiff, sub...), comment...)
	var plain bytes.Buffer
	jpeg.Encode(&plain, testImage(8, 8), nil)
	seg := []byte{0xff, 0xe1, byte((len(tiff) + 8) >> 8), byte(len(tiff) + 8)}
	seg = append(append(seg, exifHeader...), tiff...)
	data := plain.Bytes()
	return append(append(append([]byte(nil), data[:2]...), seg...), data[2:]...)
}

func TestReadJPEGForeign(t *testing.T) {
	text := a1111Samples[0].text
	u := utf16.Encode([]rune(text))
	utf16le := append([]byte("UNICODE\x00"), make([]byte, 2*len(u))...)
	for i, c := range u {
		binary.LittleEndian.PutUint16(utf16le[8+2*i:], c)
	}
	for name, comment := range map[string][]byte{
		"utf16le":   utf16le,
		"ascii":     append([]byte("ASCII\x00\x00\x00"), text...),
		"undefined": append(make([]byte, 8), text...),
	} {
		data := exifJPEG(t, 6, comment)
		got, err := ReadJPEG(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, a1111Samples[0].want) {
			t.Errorf("%s: got %#v", name, got)
		}
		o, err := JPEGOrientation(bytes.NewReader(data))
		if err != nil || o != 6 {
			t.Errorf("%s: orientation %d %v", name, o, err)
		}
	}
}

func TestReadJPEGBad(t *testing.T) {
	var plain bytes.Buffer
	jpeg.Encode(&plain, testImage(8, 8), nil)
	if _, err := ReadJPEG(bytes.NewReader(plain.Bytes())); !errors.Is(err, ErrNoSettings) {
		t.Errorf("plain jpeg: %v, want ErrNoSettings", err)
	}
	good := exifJPEG(t, 1, append([]byte("ASCII\x00\x00\x00"), "p\nSteps: 1, CFG scale: 2, Seed: 3"...))
	badOffset := append([]byte(nil), good...)
	// First IFD0 offset (after SOI, APP1 header, Exif\0\0, "II*\0") -> far away.
	binary.LittleEndian.PutUint32(badOffset[2+4+6+4:], 0xfffffff0)
	for name, data := range map[string][]byte{
		"empty":      nil,
		"png":        []byte("\x89PNG\r\n\x1a\n"),
		"truncated":  good[:30],
		"bad offset": badOffset,
	} {
		if _, err := ReadJPEG(bytes.NewReader(data)); err == nil || errors.Is(err, ErrNoSettings) {
			t.Errorf("%s: err = %v, want a format error", name, err)
		}
	}
}

func FuzzReadJPEG(f *testing.F) {
	var buf bytes.Buffer
	EncodeJPEG(&buf, testImage(4, 4), 80, fullSettings)
	f.Add(buf.Bytes()[:600])
	f.Add(exifJPEG(&testing.T{}, 3, []byte("UNICODE\x00\x00a\x00b")))
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadJPEG(bytes.NewReader(data)) // must not panic
		JPEGOrientation(bytes.NewReader(data))
	})
}
