package imagemeta

import (
	"bytes"
	"compress/zlib"
	"errors"
	"image"
	"image/color"
	"image/png"
	"reflect"
	"strings"
	"testing"
)

func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	return img
}

var fullSettings = Settings{
	Prompt: "a robot doing a handstand <kata-handstand>, ünïcødé ✓", Negative: "blurry",
	Steps: 30, Sampler: "DDIM", CFG: 7.5, Seed: 1234567890123, Width: 64, Height: 48,
	Model: "Kata World", ModelHash: "0123456789abcdef", Identifiers: []string{"handstand:deadbeef"},
	Strength: 0.5, Extra: map[string]string{"Eta": "0"},
}

func TestPNGRoundTrip(t *testing.T) {
	img := testImage(64, 48)
	var buf bytes.Buffer
	if err := EncodePNG(&buf, img, fullSettings); err != nil {
		t.Fatal(err)
	}
	// Still a valid PNG with the same pixels.
	dec, err := png.Decode(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	for _, pt := range []image.Point{{0, 0}, {63, 0}, {10, 40}, {63, 47}} {
		if color.NRGBAModel.Convert(dec.At(pt.X, pt.Y)) != img.At(pt.X, pt.Y) {
			t.Errorf("pixel %v changed", pt)
		}
	}
	got, err := ReadPNG(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, fullSettings) {
		t.Errorf("got  %#v\nwant %#v", got, fullSettings)
	}
	texts, err := ReadPNGText(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if texts[KeyParameters] != fullSettings.Parameters() {
		t.Errorf("parameters chunk %q", texts[KeyParameters])
	}
	// Non-Latin-1 text must go to iTXt, Latin-1 text to tEXt (what PIL reads).
	if !bytes.Contains(buf.Bytes(), []byte("iTXtparameters\x00")) {
		t.Error("unicode parameters not in an iTXt chunk")
	}
	buf.Reset()
	if err := EncodePNG(&buf, img, Settings{Prompt: "café", Steps: 1}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("tEXtparameters\x00caf\xe9\n")) {
		t.Error("Latin-1 parameters not in a tEXt chunk")
	}
}

// a1111PNG builds a PNG the way AUTOMATIC1111 saves one through PIL: a tEXt
// (or zTXt) "parameters" chunk after IHDR, no kata chunk.
func a1111PNG(t *testing.T, typ string, text string) []byte {
	t.Helper()
	var plain bytes.Buffer
	if err := png.Encode(&plain, testImage(8, 8)); err != nil {
		t.Fatal(err)
	}
	body := append([]byte(KeyParameters), 0)
	switch typ {
	case "tEXt":
		latin, _ := toLatin1(text)
		body = append(body, latin...)
	case "zTXt":
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write([]byte(text))
		zw.Close()
		body = append(append(body, 0), z.Bytes()...)
	case "iTXt-z":
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write([]byte(text))
		zw.Close()
		typ = "iTXt"
		body = append(append(body, 1, 0, 'e', 'n', 0, 0), z.Bytes()...)
	}
	var out bytes.Buffer
	data := plain.Bytes()
	out.Write(data[:33])
	writeChunk(&out, typ, body)
	out.Write(data[33:])
	return out.Bytes()
}

func TestReadPNGA1111(t *testing.T) {
	for _, typ := range []string{"tEXt", "zTXt", "iTXt-z"} {
		for _, tc := range a1111Samples[:3] {
			got, err := ReadPNG(bytes.NewReader(a1111PNG(t, typ, tc.text)))
			if err != nil {
				t.Fatalf("%s %s: %v", typ, tc.name, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s %s:\ngot  %#v\nwant %#v", typ, tc.name, got, tc.want)
			}
		}
	}
}

func TestReadPNGBad(t *testing.T) {
	var plain bytes.Buffer
	png.Encode(&plain, testImage(4, 4))
	good := a1111PNG(t, "tEXt", a1111Samples[0].text)

	corruptCRC := append([]byte(nil), good...)
	corruptCRC[40] ^= 0xff // inside the tEXt body: the chunk is skipped

	if _, err := ReadPNG(bytes.NewReader(plain.Bytes())); !errors.Is(err, ErrNoSettings) {
		t.Errorf("plain png: %v, want ErrNoSettings", err)
	}
	if _, err := ReadPNG(bytes.NewReader(corruptCRC)); !errors.Is(err, ErrNoSettings) {
		t.Errorf("bad CRC: %v, want ErrNoSettings", err)
	}
	for name, data := range map[string][]byte{
		"empty":     nil,
		"not png":   []byte("GIF89a........"),
		"truncated": good[:len(good)/2],
		"no IEND":   good[:len(good)-12],
		"huge chunk": append(append([]byte(nil), good[:33]...),
			0x7f, 0xff, 0xff, 0xff, 't', 'E', 'X', 't'),
	} {
		if _, err := ReadPNG(bytes.NewReader(data)); err == nil || errors.Is(err, ErrNoSettings) {
			t.Errorf("%s: err = %v, want a format error", name, err)
		}
	}
	// A broken kata chunk falls back to parameters.
	var buf bytes.Buffer
	InsertPNGText(&buf, plain.Bytes(), []TextChunk{{KeyKata, "{not json"}, {KeyParameters, a1111Samples[2].text}})
	got, err := ReadPNG(&buf)
	if err != nil || got.Seed != 1 {
		t.Errorf("fallback: %v %#v", err, got)
	}
}

func FuzzReadPNG(f *testing.F) {
	var buf bytes.Buffer
	EncodePNG(&buf, testImage(4, 4), fullSettings)
	f.Add(buf.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ReadPNG(bytes.NewReader(data)) // must not panic or hang
	})
}

// A prompt of megabytes is refused on write, so Kata never writes a PNG it
// would refuse to read; one just under the limit round-trips.
func TestEncodePNGBoundsText(t *testing.T) {
	var buf bytes.Buffer
	huge := Settings{Prompt: strings.Repeat("x", 20<<20)}
	if err := EncodePNG(&buf, testImage(4, 4), huge); !errors.Is(err, ErrTextTooLong) {
		t.Fatalf("20 MB prompt: %v", err)
	}
	buf.Reset()
	big := Settings{Prompt: strings.Repeat("y", 3<<20)}
	if err := EncodePNG(&buf, testImage(4, 4), big); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPNG(bytes.NewReader(buf.Bytes()))
	if err != nil || got.Prompt != big.Prompt {
		t.Errorf("3 MB prompt read back: %d bytes, %v", len(got.Prompt), err)
	}
}

// FuzzPNGMetadata writes arbitrary settings text into a PNG and reads it
// back: writing either fails cleanly or gives a file that reads.
func FuzzPNGMetadata(f *testing.F) {
	f.Add("a photo of <sit>", "blurry", "Euler a")
	f.Add("line\nbreak, (emph:1.2)", "", "DPM++ 2M Karras")
	f.Add("\x1b[31m", "\xff\xfe", "")
	f.Fuzz(func(t *testing.T, prompt, negative, sampler string) {
		var buf bytes.Buffer
		s := Settings{Prompt: prompt, Negative: negative, Sampler: sampler, Steps: 20, CFG: 7, Seed: 1, Width: 4, Height: 4}
		if err := EncodePNG(&buf, testImage(4, 4), s); err != nil {
			return
		}
		if _, err := ReadPNG(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("wrote a PNG it cannot read: %v", err)
		}
	})
}
