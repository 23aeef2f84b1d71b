package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func decodeFile(t *testing.T, name string, lim Limits) *image.NRGBA {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := DecodeImage(f, lim)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return img
}

// meanAbsDiff compares two same-size images channel by channel (0..255).
func meanAbsDiff(t *testing.T, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes %v vs %v", a.Bounds(), b.Bounds())
	}
	var sum, n float64
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			c1 := color.NRGBAModel.Convert(a.At(ab.Min.X+x, ab.Min.Y+y)).(color.NRGBA)
			c2 := color.NRGBAModel.Convert(b.At(bb.Min.X+x, bb.Min.Y+y)).(color.NRGBA)
			for _, d := range []int{int(c1.R) - int(c2.R), int(c1.G) - int(c2.G), int(c1.B) - int(c2.B)} {
				sum += float64(max(d, -d))
				n++
			}
		}
	}
	return sum / n
}

// lumaCorrelation is the Pearson correlation of the luma of two opaque
// images of the same size.
func lumaCorrelation(a, b *image.NRGBA) float64 {
	luma := func(p []uint8, i int) float64 {
		return 0.299*float64(p[i]) + 0.587*float64(p[i+1]) + 0.114*float64(p[i+2])
	}
	var sa, sb, saa, sbb, sab, n float64
	for i := 0; i+3 < len(a.Pix) && i+3 < len(b.Pix); i += 4 {
		x, y := luma(a.Pix, i), luma(b.Pix, i)
		sa, sb, saa, sbb, sab, n = sa+x, sb+y, saa+x*x, sbb+y*y, sab+x*y, n+1
	}
	cov := sab/n - sa/n*sb/n
	return cov / math.Sqrt((saa/n-sa/n*sa/n)*(sbb/n-sb/n*sb/n))
}

func TestDecodeFormats(t *testing.T) {
	lim := Limits{MinSide: 16}
	ref := decodeFile(t, "video-001.png", lim)
	// The CMYK JPEG (Adobe APP14 transform 0: inverted ink values, no ICC
	// profile) must match Go's reference RGB rendering of it, and be the same
	// picture as the RGB frame (its ink was separated with a profile, so it
	// is darker, but positively correlated, not inverted).
	cmyk := decodeFile(t, "video-001.cmyk.jpeg", lim)
	if d := meanAbsDiff(t, cmyk, decodeFile(t, "video-001.cmyk.png", lim)); d > 1 {
		t.Errorf("CMYK JPEG differs from the reference rendering by %.2f per channel", d)
	}
	inv := image.NewNRGBA(cmyk.Rect)
	for i := range cmyk.Pix {
		inv.Pix[i] = 255 - cmyk.Pix[i]
	}
	if c := lumaCorrelation(cmyk, ref); c < 0.8 {
		t.Errorf("CMYK JPEG correlates %.2f with the RGB frame", c)
	}
	if c := lumaCorrelation(inv, ref); c > 0 {
		t.Errorf("inverted CMYK correlates %.2f: the test cannot tell", c)
	}
	if d := meanAbsDiff(t, decodeFile(t, "video-001.gif", lim), ref); d > 12 {
		t.Errorf("GIF first frame differs by %.1f", d)
	}
	// orientation_6 stores the picture rotated with EXIF orientation 6.
	up := decodeFile(t, "orientation_1.jpg", lim)
	rot := decodeFile(t, "orientation_6.jpg", lim)
	if rot.Bounds() != up.Bounds() {
		t.Fatalf("EXIF orientation not applied: %v vs %v", rot.Bounds(), up.Bounds())
	}
	if d := meanAbsDiff(t, rot, up); d > 6 {
		t.Errorf("oriented JPEG differs by %.1f", d)
	}
	webp := decodeFile(t, "blue-purple-pink.lossless.webp", lim)
	if webp.Bounds().Dx() != 150 || webp.Bounds().Dy() != 100 || !webp.Opaque() {
		t.Errorf("webp %v opaque %v", webp.Bounds(), webp.Opaque())
	}
	// Transparency is flattened onto white.
	clear := image.NewNRGBA(image.Rect(0, 0, 20, 20))
	var buf bytes.Buffer
	png.Encode(&buf, clear)
	img, _, err := DecodeImage(&buf, lim)
	if err != nil || img.NRGBAAt(5, 5) != (color.NRGBA{255, 255, 255, 255}) {
		t.Errorf("transparent png: %v %v", img.NRGBAAt(5, 5), err)
	}
}

// bombPNG is a valid PNG signature and IHDR claiming w x h pixels followed by
// a tiny IDAT: decoding it would allocate w*h*4 bytes.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr, w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	}
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func pngBytes(img image.Image) []byte {
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

func TestDecodeBadInput(t *testing.T) {
	good := pngBytes(solid(100, 100, color.NRGBA{9, 9, 9, 255}))
	jpg, _ := os.ReadFile("testdata/video-001.cmyk.jpeg")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"zero bytes", nil, ErrEmptyFile},
		{"text", []byte("hello, I am not a picture\n"), ErrNotImage},
		{"truncated png", good[:len(good)/2], ErrCorrupt},
		{"truncated header", good[:20], ErrCorrupt},
		{"truncated jpeg", jpg[:len(jpg)/2], ErrCorrupt},
		{"bomb", bombPNG(100000, 100000), ErrTooLarge},
		{"tiny", pngBytes(solid(16, 200, color.NRGBA{1, 1, 1, 255})), ErrTooSmall},
	} {
		_, _, err := DecodeImage(bytes.NewReader(tc.data), Limits{})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, _, err := DecodeImage(bytes.NewReader(good), Limits{MaxBytes: 100}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("file over MaxBytes: %v", err)
	}
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportActionBench(t *testing.T) {
	ctx := context.Background()
	l := openTemp(t)
	root := t.TempDir()
	hs := filepath.Join(root, "handstand")
	writeFile(t, filepath.Join(hs, "1.png"), pngBytes(solid(80, 80, color.NRGBA{10, 0, 0, 255})))
	writeFile(t, filepath.Join(hs, "2.png"), pngBytes(solid(80, 80, color.NRGBA{20, 0, 0, 255})))
	writeFile(t, filepath.Join(hs, "10.png"), pngBytes(solid(80, 80, color.NRGBA{30, 0, 0, 255})))
	writeFile(t, filepath.Join(hs, "2.txt"), []byte("a man doing {} on grass\n"))
	writeFile(t, filepath.Join(hs, "text.json"), []byte(`{"10": "happy boy in denim jeans {} on blue"}`))
	writeFile(t, filepath.Join(hs, "notes.md"), []byte("x"))
	sal := filepath.Join(root, "salute")
	writeFile(t, filepath.Join(sal, "01.jpg"), pngBytes(solid(80, 80, color.NRGBA{0, 10, 0, 255}))) // PNG named .jpg: content decides
	writeFile(t, filepath.Join(sal, "02.png"), pngBytes(solid(80, 80, color.NRGBA{10, 0, 0, 255}))) // same picture as handstand/1: other action, not a duplicate
	writeFile(t, filepath.Join(sal, "03.png"), pngBytes(solid(80, 80, color.NRGBA{0, 10, 0, 255}))) // duplicate of 01.jpg
	writeFile(t, filepath.Join(sal, "04.png"), nil)
	writeFile(t, filepath.Join(sal, "05.png"), []byte("not a png"))
	writeFile(t, filepath.Join(sal, "06.png"), pngBytes(solid(8, 8, color.NRGBA{1, 1, 1, 255})))
	writeFile(t, filepath.Join(sal, "07.png"), bombPNG(30000, 30000))
	writeFile(t, filepath.Join(sal, "text.json"), []byte(`["a woman {} in a park"]`))

	var progress int
	res, err := l.Import(ctx, []string{root, filepath.Join(root, "missing.png"), filepath.Join(root, "nowhere")},
		ImportOptions{Progress: func(done, total int, _ string) { progress = done }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Added) != 5 || len(res.Duplicates) != 1 || len(res.Failed) != 6 || len(res.Actions) != 2 {
		t.Fatalf("added %d dup %d failed %v actions %d", len(res.Added), len(res.Duplicates), res.Failed, len(res.Actions))
	}
	if progress != 10 {
		t.Errorf("progress reached %d of 10", progress)
	}
	wantErr := map[string]error{"04.png": ErrEmptyFile, "05.png": ErrNotImage, "06.png": ErrTooSmall, "07.png": ErrTooLarge,
		"missing.png": os.ErrNotExist, "nowhere": os.ErrNotExist}
	for _, f := range res.Failed {
		if want := wantErr[filepath.Base(f.Path)]; !errors.Is(f, want) {
			t.Errorf("%v: want %v", f, want)
		}
		if !strings.Contains(f.Error(), filepath.Base(f.Path)) {
			t.Errorf("error %q does not name the file", f)
		}
	}
	if filepath.Base(res.Duplicates[0].Path) != "03.png" {
		t.Errorf("duplicate %+v", res.Duplicates[0])
	}
	a, err := l.ActionByName(ctx, "handstand")
	if err != nil {
		t.Fatal(err)
	}
	es, _ := l.Exemplars(ctx, a.ID)
	var caps []string
	for _, e := range es {
		caps = append(caps, filepath.Base(e.Source)+"="+e.Caption)
	}
	want := "1.png=a photo of a person <handstand>|2.png=a man doing <handstand> on grass|10.png=happy boy in denim jeans <handstand> on blue"
	if got := strings.Join(caps, "|"); got != want {
		t.Errorf("captions\n%s\nwant\n%s", got, want)
	}
	s, _ := l.ActionByName(ctx, "salute")
	es, _ = l.Exemplars(ctx, s.ID)
	if len(es) != 2 || es[0].Caption != "a woman <salute> in a park" {
		t.Errorf("salute exemplars %+v", es)
	}
	if len(res.Skipped) != 1 || filepath.Base(res.Skipped[0]) != "notes.md" {
		t.Errorf("skipped %v", res.Skipped)
	}
	// Importing again adds nothing.
	res, err = l.Import(ctx, []string{hs}, ImportOptions{})
	if err != nil || len(res.Added) != 0 || len(res.Duplicates) != 3 {
		t.Errorf("re-import: %+v %v", res, err)
	}
	// Loose files need an action.
	res, _ = l.Import(ctx, []string{filepath.Join(hs, "1.png")}, ImportOptions{})
	if len(res.Failed) != 1 {
		t.Errorf("loose file without action: %+v", res)
	}
	res, _ = l.Import(ctx, []string{"testdata/orientation_6.jpg", "testdata/video-001.cmyk.jpeg"},
		ImportOptions{Action: "sit", Limits: Limits{MinSide: 16}, MaxSide: 100})
	if len(res.Added) != 2 || res.Added[0].Crop != (image.Rectangle{}) {
		t.Fatalf("loose files: %+v", res)
	}
	// 50x70 stays, 150x103 is scaled to fit 100x100 (imaging rounds 68.67 down).
	for i, want := range []image.Point{{50, 70}, {100, 68}} {
		img, err := l.Image(res.Added[i].Image)
		if err != nil || img.Bounds().Size() != want {
			t.Errorf("stored size %v, want %v (%v)", img.Bounds().Size(), want, err)
		}
	}
	if rep, err := l.Check(ctx); err != nil || len(rep.Problems) != 0 {
		t.Errorf("check after import: %v %v", rep.Problems, err)
	}
}

func FuzzDecodeImage(f *testing.F) {
	for _, name := range []string{"orientation_6.jpg", "video-001.gif", "blue-purple-pink.lossless.webp"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add(pngBytes(solid(4, 4, color.NRGBA{1, 2, 3, 4})))
	f.Add(bombPNG(5000, 5000))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := DecodeImage(bytes.NewReader(data), Limits{MaxPixels: 1 << 20, MinSide: 1})
		if err == nil && (img.Bounds().Empty() || !img.Opaque()) {
			t.Fatalf("decoded %v, opaque %v", img.Bounds(), img.Opaque())
		}
	})
}

func TestImportSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe.png")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	l := openTemp(t)
	res, err := l.Import(context.Background(), []string{fifo, dir}, ImportOptions{Action: "sit"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failed) != 2 || !strings.Contains(res.Failed[0].Error(), "not a regular file") {
		t.Errorf("fifo: %v", res.Failed)
	}
}

// FuzzImport feeds arbitrary bytes as a picture and as text.json of an
// action folder: the import must report per-file errors, never fail the
// library or leave it inconsistent.
func FuzzImport(f *testing.F) {
	f.Add(pngBytes(solid(64, 64, color.NRGBA{1, 2, 3, 255})), []byte(`["a {} b"]`))
	f.Add(bombPNG(9000, 9000), []byte(`{"1": ["x {}"]}`))
	f.Add([]byte{}, []byte(`{`))
	l, err := Open(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	root := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, pic, textJSON []byte) {
		n++
		dir := filepath.Join(root, fmt.Sprint("act", n))
		writeFile(t, filepath.Join(dir, "1.png"), pic)
		writeFile(t, filepath.Join(dir, "text.json"), textJSON)
		res, err := l.Import(context.Background(), []string{dir}, ImportOptions{Limits: Limits{MaxPixels: 1 << 20, MinSide: 1}})
		if err != nil {
			t.Fatalf("library error: %v", err)
		}
		if len(res.Added)+len(res.Duplicates) == 0 && len(res.Failed) == 0 {
			t.Fatalf("picture neither imported nor reported: %+v", res)
		}
		os.RemoveAll(dir)
	})
	if rep, err := l.Check(context.Background()); err != nil || len(rep.Problems) != 0 {
		f.Errorf("check after fuzzing: %v %v", rep.Problems, err)
	}
}
