package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"image"
	"io/fs"
	"path/filepath"
	"testing"

	"kata/model/backend"
	"kata/model/backend/gemm"
	"kata/model/safetensors"
	"kata/model/sd"
	"kata/store"
	"kata/store/atomicfile"
)

var updateShipped = flag.Bool("update-shipped", false, "rewrite testdata/builtin-blue-robot.png from the shipped model (then put its printed hash in shippedHash)")

// The shipped model's reference image: "a blue robot waving on a dotted
// background", seed 1, 20 steps of the default sampler, CFG 7.5, on the
// pure-Go backend. shippedHash is the SHA-256 of its NRGBA pixels, made with
// shippedKernel's GEMM micro-kernel: other kernels sum in another order, so
// on their CPUs the image is compared within a tolerance instead.
const (
	shippedPrompt = "a blue robot waving on a dotted background"
	shippedKernel = "avx512"
	shippedHash   = "9d36b750543d7058b7c4fadc9b03ed7fa77b6c5e2f5d8421b5fc996a5945689e"
	shippedPNG    = "testdata/builtin-blue-robot.png"
)

// TestShippedModel checks the weights this build embeds: f16 safetensors
// within the 40 MB budget, loaded through sd.Load from the folder the first
// start writes, and a fixed prompt and seed that reproduce the stored image.
func TestShippedModel(t *testing.T) {
	if shippedModel == nil {
		t.Fatal("this build embeds no model")
	}
	var total int64
	if err := fs.WalkDir(shippedModel, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if total > 40<<20 {
		t.Errorf("shipped model is %d bytes, over the 40 MB budget", total)
	}
	dir, err := shippedModelDir(shippedModel, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	weights, _ := filepath.Glob(filepath.Join(dir, "*", "*.safetensors"))
	if len(weights) != 3 {
		t.Fatalf("weights files %q, want text_encoder, unet and vae", weights)
	}
	for _, w := range weights {
		f, err := safetensors.Open(w)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range f.Infos() {
			if ti.DType != safetensors.F16 {
				t.Errorf("%s: %s is %s, want F16", w, ti.Name, ti.DType)
			}
		}
		f.Close()
	}

	m, err := sd.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	p, err := sd.NewPipeline(be, m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Finalize()
	res, err := p.Generate(context.Background(), sd.GenerateOptions{Prompt: shippedPrompt, Steps: 20, CFG: 7.5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	got := pixHash(res.Image)
	if *updateShipped {
		data, err := store.EncodePNG(res.Image)
		if err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.WriteBytes(shippedPNG, data); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s; kernel %s, pixel hash %s", shippedPNG, gemm.Kernel(), got)
		return
	}
	want, err := store.DecodeFile(shippedPNG, store.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if pixHash(want) != shippedHash {
		t.Fatalf("%s does not match shippedHash: the reference image and its hash disagree", shippedPNG)
	}
	if gemm.Kernel() == shippedKernel {
		if got != shippedHash {
			t.Errorf("image hash %s, want %s (kernel %s)", got, shippedHash, gemm.Kernel())
		}
		return
	}
	// Another kernel: the same picture up to rounding.
	if mean, worst := pixelDiff(res.Image, want); mean > 1 || worst > 24 {
		t.Errorf("kernel %s: image differs from the reference by %.2f levels on average, %d at most", gemm.Kernel(), mean, worst)
	}
}

// pixHash is the hex SHA-256 of an image's NRGBA pixels.
func pixHash(img *image.NRGBA) string {
	sum := sha256.Sum256(img.Pix)
	return hex.EncodeToString(sum[:])
}

// pixelDiff returns the mean and largest absolute difference of two
// same-sized images' channel values.
func pixelDiff(a, b *image.NRGBA) (mean float64, worst int) {
	if len(a.Pix) != len(b.Pix) {
		return 255, 255
	}
	var total int
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		total += d
		worst = max(worst, d)
	}
	return float64(total) / float64(len(a.Pix)), worst
}
