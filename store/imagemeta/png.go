package imagemeta

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"unicode/utf8"
)

// PNG text keywords Kata writes.
const (
	// KeyParameters is the AUTOMATIC1111 keyword of the settings text.
	KeyParameters = "parameters"
	// KeyKata is the keyword of Kata's JSON chunk (see kataJSON).
	KeyKata = "kata"
)

// Limits that keep hostile files from exhausting memory.
const (
	maxTextChunk = 8 << 20 // bytes of one text chunk, compressed or not
	maxInflated  = 8 << 20 // bytes a compressed text chunk may inflate to
)

// ErrTextTooLong is returned (wrapped) when settings text would exceed the
// size ReadPNGText accepts (8 MiB a chunk), e.g. a prompt of megabytes.
var ErrTextTooLong = errors.New("settings text too long")

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// kataJSON is the payload of the "kata" chunk: Settings plus a format tag and
// version so later Kata releases can tell old chunks apart.
type kataJSON struct {
	Format  string `json:"format"`
	Version int    `json:"version"`
	Settings
}

const kataFormat = "kata/settings"

// MarshalKata returns the JSON Kata stores in its "kata" chunk.
func MarshalKata(s Settings) ([]byte, error) {
	return json.Marshal(kataJSON{Format: kataFormat, Version: 1, Settings: s})
}

// UnmarshalKata parses the payload of a "kata" chunk.
func UnmarshalKata(data []byte) (Settings, error) {
	var k kataJSON
	if err := json.Unmarshal(data, &k); err != nil {
		return Settings{}, fmt.Errorf("kata chunk: %w", err)
	}
	if k.Format != kataFormat {
		return Settings{}, fmt.Errorf("kata chunk: format %q, want %q", k.Format, kataFormat)
	}
	return k.Settings, nil
}

// EncodePNG writes img as PNG with s in a "parameters" text chunk (tEXt when
// the text is Latin-1, else uncompressed iTXt, as PIL does) and in a "kata"
// iTXt JSON chunk. The chunks go right after IHDR: readers that stop at the
// image data (PIL before load) still see them.
func EncodePNG(w io.Writer, img image.Image, s Settings) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	js, err := MarshalKata(s)
	if err != nil {
		return fmt.Errorf("encode png: %w", err)
	}
	return InsertPNGText(w, buf.Bytes(), []TextChunk{
		{Key: KeyParameters, Text: s.Parameters()},
		{Key: KeyKata, Text: string(js)},
	})
}

// TextChunk is one PNG text entry.
type TextChunk struct{ Key, Text string }

// InsertPNGText copies the PNG file data to w with the text chunks added after
// IHDR. Keys must be 1-79 Latin-1 characters.
func InsertPNGText(w io.Writer, data []byte, chunks []TextChunk) error {
	const ihdrEnd = 8 + 8 + 13 + 4 // signature, IHDR length+type, IHDR data, CRC
	if len(data) < ihdrEnd || !bytes.Equal(data[:8], pngSignature) || string(data[12:16]) != "IHDR" {
		return errors.New("insert png text: not a PNG file")
	}
	if _, err := w.Write(data[:ihdrEnd]); err != nil {
		return err
	}
	for _, c := range chunks {
		if len(c.Key) == 0 || len(c.Key) > 79 {
			return fmt.Errorf("insert png text: bad keyword %q", c.Key)
		}
		var body []byte
		typ := "tEXt"
		if latin1, ok := toLatin1(c.Text); ok {
			body = append(append([]byte(c.Key), 0), latin1...)
		} else {
			typ = "iTXt"
			// keyword\0 compression-flag compression-method language\0 translated-keyword\0 text
			body = append(append([]byte(c.Key), 0, 0, 0, 0, 0), c.Text...)
		}
		if len(body) > maxTextChunk {
			// Bounded on write as on read: Kata must read back what it writes.
			return fmt.Errorf("insert png text: %w: %q is %d bytes, at most %d", ErrTextTooLong, c.Key, len(body), maxTextChunk)
		}
		if err := writeChunk(w, typ, body); err != nil {
			return err
		}
	}
	_, err := w.Write(data[ihdrEnd:])
	return err
}

func writeChunk(w io.Writer, typ string, body []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(body)))
	copy(hdr[4:], typ)
	crc := crc32.NewIEEE()
	crc.Write(hdr[4:])
	crc.Write(body)
	var tail [4]byte
	binary.BigEndian.PutUint32(tail[:], crc.Sum32())
	for _, b := range [][]byte{hdr[:], body, tail[:]} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// ReadPNG returns the settings of a PNG file: from the "kata" JSON chunk when
// present and valid, else from the A1111 "parameters" chunk, else from
// InvokeAI's "invokeai_metadata" (ParseInvokeAI), ComfyUI's "prompt"
// graph (ParseComfyUI) or, without it, ComfyUI's "workflow" graph
// (ParseComfyWorkflow). It returns an error wrapping ErrNoSettings when the
// file has none of them.
func ReadPNG(r io.Reader) (Settings, error) {
	texts, err := ReadPNGText(r)
	if err != nil {
		return Settings{}, err
	}
	var kataErr error
	if js, ok := texts[KeyKata]; ok {
		s, err := UnmarshalKata([]byte(js))
		if err == nil {
			return s, nil
		}
		kataErr = err
	}
	if p, ok := texts[KeyParameters]; ok {
		return ParseParameters(p)
	}
	if p, ok := texts[KeyInvokeAI]; ok {
		return ParseInvokeAI(p)
	}
	if p, ok := texts[KeyComfyPrompt]; ok {
		return ParseComfyUI(p)
	}
	if p, ok := texts[KeyComfyWorkflow]; ok && kataErr == nil {
		return ParseComfyWorkflow(p)
	}
	if kataErr != nil {
		return Settings{}, fmt.Errorf("read png: %w", kataErr)
	}
	return Settings{}, fmt.Errorf("read png: %w", ErrNoSettings)
}

// ReadPNGText returns the tEXt, zTXt and iTXt entries of a PNG stream, keyed
// by keyword (UTF-8). It reads up to IEND, skips chunks whose CRC is wrong and
// fails on a stream that is not PNG or ends early.
func ReadPNGText(r io.Reader) (map[string]string, error) {
	br := bufio.NewReader(r)
	sig := make([]byte, 8)
	if _, err := io.ReadFull(br, sig); err != nil || !bytes.Equal(sig, pngSignature) {
		return nil, errors.New("read png: not a PNG file")
	}
	texts := map[string]string{}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, fmt.Errorf("read png: truncated file: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		typ := string(hdr[4:])
		if n > 0x7fffffff {
			return nil, fmt.Errorf("read png: chunk %q length %d out of range", typ, n)
		}
		switch typ {
		case "tEXt", "zTXt", "iTXt":
			if n > maxTextChunk {
				return nil, fmt.Errorf("read png: %s chunk of %d bytes exceeds %d", typ, n, maxTextChunk)
			}
			body := make([]byte, int(n)+4)
			if _, err := io.ReadFull(br, body); err != nil {
				return nil, fmt.Errorf("read png: truncated %s chunk: %w", typ, err)
			}
			crc := crc32.NewIEEE()
			crc.Write(hdr[4:])
			crc.Write(body[:n])
			if crc.Sum32() != binary.BigEndian.Uint32(body[n:]) {
				continue
			}
			if k, v, err := decodeText(typ, body[:n]); err == nil {
				texts[k] = v
			}
		default:
			if _, err := io.CopyN(io.Discard, br, int64(n)+4); err != nil {
				return nil, fmt.Errorf("read png: truncated %s chunk: %w", typ, err)
			}
			if typ == "IEND" {
				return texts, nil
			}
		}
	}
}

// decodeText decodes one text chunk body into keyword and UTF-8 text.
func decodeText(typ string, body []byte) (string, string, error) {
	key, rest, ok := bytes.Cut(body, []byte{0})
	if !ok || len(key) == 0 {
		return "", "", errors.New("text chunk without keyword")
	}
	keyword := fromLatin1(key)
	switch typ {
	case "tEXt":
		return keyword, fromLatin1(rest), nil
	case "zTXt":
		if len(rest) < 1 || rest[0] != 0 {
			return "", "", errors.New("zTXt: unknown compression")
		}
		text, err := inflate(rest[1:])
		return keyword, fromLatin1(text), err
	default: // iTXt
		if len(rest) < 2 {
			return "", "", errors.New("iTXt: short")
		}
		compressed, method := rest[0], rest[1]
		rest = rest[2:]
		// Skip language tag and translated keyword.
		for i := 0; i < 2; i++ {
			j := bytes.IndexByte(rest, 0)
			if j < 0 {
				return "", "", errors.New("iTXt: short")
			}
			rest = rest[j+1:]
		}
		if compressed == 1 {
			if method != 0 {
				return "", "", errors.New("iTXt: unknown compression")
			}
			var err error
			if rest, err = inflate(rest); err != nil {
				return "", "", err
			}
		}
		if !utf8.Valid(rest) {
			return "", "", errors.New("iTXt: text is not UTF-8")
		}
		return keyword, string(rest), nil
	}
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return nil, err
	}
	if len(out) > maxInflated {
		return nil, fmt.Errorf("compressed text inflates beyond %d bytes", maxInflated)
	}
	return out, nil
}

func toLatin1(s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return nil, false
		}
		out = append(out, byte(r))
	}
	return out, true
}

func fromLatin1(b []byte) string {
	rs := make([]rune, len(b))
	for i, c := range b {
		rs[i] = rune(c)
	}
	return string(rs)
}
