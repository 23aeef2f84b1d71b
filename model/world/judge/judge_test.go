package judge

import (
	"bytes"
	stdcontext "context"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/gomlx/gomlx/backends"

	"kata/model/backend"
	"kata/model/safetensors"
)

// toyWorld is a tiny synthetic world for the tests: a filled disc or bar
// (kind) of one of three colours (colour) at one of three heights (action, so
// that a mirror image shows the same classes, as in the world) on
// a grey background, with a little jitter.
type toyWorld struct{}

var shapeColors = []color.NRGBA{{220, 40, 40, 255}, {40, 180, 60, 255}, {50, 70, 220, 255}}

func (toyWorld) Vocabulary() Vocabulary {
	return Vocabulary{Kinds: []string{"disc", "bar"}, Colors: []string{"red", "green", "blue"}, Actions: []string{"top", "middle", "bottom"}}
}

func (toyWorld) Draw(rng *rand.Rand) (image.Image, Label) {
	l := Label{Kind: rng.IntN(2), Color: rng.IntN(3), Action: rng.IntN(3)}
	img := image.NewNRGBA(image.Rect(0, 0, Size, Size))
	bg := uint8(100 + rng.IntN(60))
	cx := 32 + rng.IntN(9) - 4
	cy := 14 + 18*l.Action + rng.IntN(5) - 2
	r := 7 + rng.IntN(3)
	for y := range Size {
		for x := range Size {
			dx, dy := x-cx, y-cy
			in := dx*dx+dy*dy <= r*r
			if l.Kind == 1 {
				in = dx >= -r && dx <= r && dy >= -r/3 && dy <= r/3
			}
			if in {
				img.SetNRGBA(x, y, shapeColors[l.Color])
			} else {
				img.SetNRGBA(x, y, color.NRGBA{bg, bg, bg, 255})
			}
		}
	}
	return img, l
}

func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAugment(t *testing.T) {
	img, _ := toyWorld{}.Draw(newRand(3, 3))
	src := img.(*image.NRGBA)
	orig := slices.Clone(src.Pix)
	a := DefaultAugmentation()
	always := a
	always.PGeometry, always.PColor, always.PBlur, always.PNoise, always.PJPEG = 1, 1, 1, 1, 1
	tests := []struct {
		name     string
		aug      Augmentation
		wantSame bool // output equals the input
	}{
		{"zero augmentation is the identity", Augmentation{}, true},
		{"every effect on changes pixels", always, false},
		{"default recipe", a, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := Augment(src, tc.aug, newRand(7, 1))
			y := Augment(src, tc.aug, newRand(7, 1))
			if !bytes.Equal(x.Pix, y.Pix) {
				t.Fatal("same rng state gave different pixels")
			}
			if x.Bounds() != src.Bounds() {
				t.Fatalf("bounds %v, want %v", x.Bounds(), src.Bounds())
			}
			if got := bytes.Equal(x.Pix, src.Pix); got != tc.wantSame {
				t.Fatalf("output equals input: %v, want %v", got, tc.wantSame)
			}
			if !bytes.Equal(src.Pix, orig) {
				t.Fatal("Augment modified its input")
			}
		})
	}
	// The default recipe varies with the rng: no two of 8 draws are identical.
	seen := map[string]bool{}
	for i := range 8 {
		seen[string(Augment(src, a, newRand(9, uint64(i))).Pix)] = true
	}
	if len(seen) < 8 {
		t.Fatalf("8 draws gave %d distinct images", len(seen))
	}
}

func TestAffineKeepsBorderColour(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, Size, Size))
	for i := range img.Pix {
		img.Pix[i] = 200
	}
	out := affine(img, 0.9, 3, -3) // zoom out: the corners are uncovered
	for _, p := range []image.Point{{0, 0}, {Size - 1, Size - 1}, {0, Size - 1}} {
		if c := out.NRGBAAt(p.X, p.Y); c.R < 195 || c.A != 255 {
			t.Fatalf("pixel %v is %v, want the border colour", p, c)
		}
	}
}

func TestTensor(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 128, 96))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+3] = 255, 255 // opaque red
	}
	x, err := Tensor([]image.Image{img, img})
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Shape().Dimensions; !slices.Equal(got, []int{2, Size, Size, 3}) {
		t.Fatalf("shape %v", got)
	}
	data := x.Value().([][][][]float32)
	if r, g := data[1][10][10][0], data[1][10][10][1]; math.Abs(float64(r)-1) > 1e-6 || g != 0 {
		t.Fatalf("red pixel read as r=%v g=%v", r, g)
	}
	for _, bad := range [][]image.Image{nil, {image.NewNRGBA(image.Rect(0, 0, 0, 0))}} {
		if _, err := Tensor(bad); err == nil {
			t.Fatalf("Tensor(%d images, empty) gave no error", len(bad))
		}
	}
}

func TestSaveLoad(t *testing.T) {
	be := testBackend(t)
	j, err := New(be, toyWorld{}.Vocabulary(), []int{4, 8}, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	rng := newRand(11, 1)
	for range 4 {
		img, _ := toyWorld{}.Draw(rng)
		imgs = append(imgs, img)
	}
	want, err := j.Classify(imgs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		half bool
		tol  float64
	}{{"f32", false, 0}, {"f16", true, 2e-3}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".safetensors")
			if err := j.Save(path, tc.half); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			k, err := Load(be, data)
			if err != nil {
				t.Fatal(err)
			}
			if !k.Vocab.Equal(j.Vocab) || !slices.Equal(k.Widths, j.Widths) || k.Stem != 4 {
				t.Fatalf("loaded vocabulary %v widths %v", k.Vocab, k.Widths)
			}
			got, err := k.Classify(imgs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				for _, p := range [][2][]float32{{got[i].KindProbs, want[i].KindProbs}, {got[i].ColorProbs, want[i].ColorProbs}, {got[i].ActionProbs, want[i].ActionProbs}} {
					for c := range p[0] {
						if d := math.Abs(float64(p[0][c] - p[1][c])); d > tc.tol {
							t.Fatalf("image %d class %d: probability %v, saved judges gave %v", i, c, p[0][c], p[1][c])
						}
					}
				}
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	be := testBackend(t)
	j, err := New(be, toyWorld{}.Vocabulary(), []int{4, 8}, 4, 5)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := j.weightTensors(false)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(ts []safetensors.Tensor, meta map[string]string) []byte {
		var b bytes.Buffer
		if err := safetensors.Encode(&b, ts, meta); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	withMeta := func(k, v string) map[string]string {
		m := j.metadata()
		m[k] = v
		return m
	}
	wrongShape := slices.Clone(ts)
	wrongShape[0] = safetensors.F32Tensor(ts[0].Name, []int{1}, []float32{0})
	tests := []struct {
		name string
		data []byte
	}{
		{"not safetensors", []byte("hello")},
		{"other format", encode(ts, withMeta(metaFormat, "something"))},
		{"other version", encode(ts, withMeta(metaVersion, "99"))},
		{"other image size", encode(ts, withMeta("size", "128"))},
		{"bad widths", encode(ts, withMeta("widths", "4,x"))},
		{"one-class head", encode(ts, withMeta("kinds", "disc"))},
		{"missing tensor", encode(ts[1:], j.metadata())},
		{"wrong shape", encode(wrongShape, j.metadata())},
		{"widths disagree with tensors", encode(ts, withMeta("widths", "4,16"))},
		{"stem disagrees with tensors", encode(ts, withMeta("stem", "0"))},
		{"bad stem", encode(ts, withMeta("stem", "-3"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load(be, tc.data); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// meanNLL is the mean negative log-probability j gives the true classes of n
// images drawn from src with rng.
func meanNLL(t *testing.T, j *Judges, src Source, n int, rng *rand.Rand) float64 {
	t.Helper()
	var imgs []image.Image
	var labels []Label
	for range n {
		img, l := src.Draw(rng)
		imgs, labels = append(imgs, img), append(labels, l)
	}
	vs, err := j.Classify(imgs)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for i, v := range vs {
		sum -= math.Log(float64(v.KindProbs[labels[i].Kind])) + math.Log(float64(v.ColorProbs[labels[i].Color])) + math.Log(float64(v.ActionProbs[labels[i].Action]))
	}
	return sum / float64(n)
}

func TestTrainLowersLoss(t *testing.T) {
	be := testBackend(t)
	opts := TrainOptions{Steps: 12, Batch: 16, LR: 3e-3, Seed: 2, Widths: []int{8, 16}, Dir: t.TempDir(), Augment: &Augmentation{}}
	before, err := New(be, toyWorld{}.Vocabulary(), opts.Widths, opts.Stem, opts.Seed)
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	opts.OnProgress = func(p Progress) { steps = append(steps, p.Step) }
	after, err := Train(stdcontext.Background(), be, toyWorld{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != opts.Steps || steps[len(steps)-1] != opts.Steps {
		t.Fatalf("progress reported steps %v", steps)
	}
	l0 := meanNLL(t, before, toyWorld{}, 64, newRand(99, 1))
	l1 := meanNLL(t, after, toyWorld{}, 64, newRand(99, 1))
	t.Logf("held-out loss %.4f -> %.4f after %d steps", l0, l1, opts.Steps)
	if !(l1 < 0.9*l0) {
		t.Fatalf("held-out loss %.4f -> %.4f: training did not lower it by 10%%", l0, l1)
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, CheckpointFile)); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
}

func TestTrainResume(t *testing.T) {
	be := testBackend(t)
	base := TrainOptions{Steps: 6, Batch: 8, Seed: 3, Widths: []int{4, 8}, SaveEvery: 100}
	whole := base
	whole.Dir = t.TempDir()
	want, err := Train(stdcontext.Background(), be, toyWorld{}, whole)
	if err != nil {
		t.Fatal(err)
	}

	// The same run stopped after step 2 (as by Ctrl-C), then resumed.
	part := base
	part.Dir = t.TempDir()
	ctx, cancel := stdcontext.WithCancel(stdcontext.Background())
	part.OnProgress = func(p Progress) {
		if p.Step == 2 {
			cancel()
		}
	}
	if _, err := Train(ctx, be, toyWorld{}, part); err == nil {
		t.Fatal("cancelled run returned no error")
	}
	part.OnProgress = nil
	other := part
	other.Resume, other.LR = true, 1e-2
	if _, err := Train(stdcontext.Background(), be, toyWorld{}, other); err == nil {
		t.Fatal("resume with another learning rate was accepted")
	}
	part.Resume = true
	var first int
	part.OnProgress = func(p Progress) {
		if first == 0 {
			first = p.Step
		}
	}
	got, err := Train(stdcontext.Background(), be, toyWorld{}, part)
	if err != nil {
		t.Fatal(err)
	}
	if first != 3 {
		t.Fatalf("resumed run's first step is %d, want 3", first)
	}
	a, err := want.weightTensors(false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := got.weightTensors(false)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i].Name != b[i].Name || !bytes.Equal(a[i].Data, b[i].Data) {
			t.Fatalf("tensor %s differs between the uninterrupted and the resumed run", a[i].Name)
		}
	}
	// Resuming without a checkpoint is an error.
	none := base
	none.Dir, none.Resume = t.TempDir(), true
	if _, err := Train(stdcontext.Background(), be, toyWorld{}, none); err == nil {
		t.Fatal("resume without a checkpoint was accepted")
	}
}

// TestClassifyMirrorInvariant: Classify averages an image with its mirror,
// so an image and its mirror get the same probabilities.
func TestClassifyMirrorInvariant(t *testing.T) {
	j, err := New(testBackend(t), toyWorld{}.Vocabulary(), []int{4, 8}, 4, 6)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := toyWorld{}.Draw(newRand(12, 1))
	vs, err := j.Classify([]image.Image{img, imaging.FlipH(img)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2][]float32{{vs[0].KindProbs, vs[1].KindProbs}, {vs[0].ColorProbs, vs[1].ColorProbs}, {vs[0].ActionProbs, vs[1].ActionProbs}} {
		for c := range p[0] {
			if d := math.Abs(float64(p[0][c] - p[1][c])); d > 1e-6 {
				t.Fatalf("class %d: %v for the image, %v for its mirror", c, p[0][c], p[1][c])
			}
		}
	}
	if _, err := j.Classify([]image.Image{img, nil}); err == nil {
		t.Fatal("a nil image was accepted")
	}
}

func TestTrainInitFrom(t *testing.T) {
	be := testBackend(t)
	from, err := New(be, toyWorld{}.Vocabulary(), []int{4, 8}, 4, 7)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "from.safetensors")
	if err := from.Save(path, false); err != nil {
		t.Fatal(err)
	}
	// A vanishing learning rate leaves the starting weights as they are.
	opts := TrainOptions{Steps: 1, Batch: 2, LR: 1e-12, Seed: 8, Widths: []int{4, 8}, Stem: 4, Dir: t.TempDir(), InitFrom: path}
	got, err := Train(stdcontext.Background(), be, toyWorld{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := from.weightTensors(false)
	b, _ := got.weightTensors(false)
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for i := range a {
		x, y := a[i].Data, b[i].Data
		for k := 0; k+4 <= len(x); k += 4 {
			fx := math.Float32frombits(uint32(x[k]) | uint32(x[k+1])<<8 | uint32(x[k+2])<<16 | uint32(x[k+3])<<24)
			fy := math.Float32frombits(uint32(y[k]) | uint32(y[k+1])<<8 | uint32(y[k+2])<<16 | uint32(y[k+3])<<24)
			if math.Abs(float64(fx-fy)) > 1e-6 {
				t.Fatalf("tensor %s moved from %v to %v: training did not start from the file", a[i].Name, fx, fy)
			}
		}
	}
	other := opts
	other.Stem, other.Dir = 2, t.TempDir()
	if _, err := Train(stdcontext.Background(), be, toyWorld{}, other); err == nil {
		t.Fatal("init weights of another layout were accepted")
	}
}
