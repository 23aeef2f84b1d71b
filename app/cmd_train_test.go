package app

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/sd/sdtest"
	"kata/store"
)

// trainImages writes n small PNG exemplars of different sizes into a folder.
func trainImages(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		w, h := 64+10*i, 94-10*i
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				img.SetNRGBA(x, y, color.NRGBA{uint8(x * 5), uint8(y * 3), uint8(60 * i), 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	return dir
}

func TestTrainCommand(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	lib := t.TempDir()
	t.Setenv(store.EnvLibrary, lib)
	images := trainImages(t, 2)
	out := filepath.Join(t.TempDir(), "handstand.safetensors")
	code, stdout, stderr := runMain("train", "--model", sdtest.TinyDir(), "--images", images, "--name", "handstand",
		"--out", out, "--method", "adi", "--steps", "3", "--seed", "5", "--preview-every", "3")
	if code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "3/3") || !strings.Contains(stdout, "<handstand>") {
		t.Errorf("stdout %q stderr %q", stdout, stderr)
	}
	id, err := adi.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if id.Trigger != "<handstand>" || id.Method != adi.MethodADI || len(id.Vectors) != 16 || id.Width() != 32 || id.Steps != 3 || id.Beta != 0.5 {
		t.Errorf("identifier %+v with %d vectors", id.Metadata, len(id.Vectors))
	}
	if previews, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "handstand-preview-*.png")); len(previews) != 1 {
		t.Errorf("previews: %v", previews)
	}
	// Contrast images are cached in the library's work folder, never beside the photos.
	if cached, _ := filepath.Glob(filepath.Join(lib, "work", "contrast", "*.png")); len(cached) != 4 {
		t.Errorf("contrast cache: %v", cached)
	}
	if left, _ := os.ReadDir(images); len(left) != 2 {
		t.Errorf("the photo folder holds %d entries after training, want its 2 photos", len(left))
	}
	if _, err := os.Stat(strings.TrimSuffix(out, ".safetensors") + trainStateExt); !os.IsNotExist(err) {
		t.Errorf("checkpoint left behind after a finished run: %v", err)
	}

	// TI with the AUTOMATIC1111 export.
	ti := filepath.Join(t.TempDir(), "pray.safetensors")
	a1111 := filepath.Join(t.TempDir(), "pray-a1111.safetensors")
	code, _, stderr = runMain("train", "--model", sdtest.TinyDir(), "--name", "pray", "--out", ti, "--method", "ti",
		"--steps", "2", "--export-a1111", a1111, filepath.Join(images, "a.png"))
	if code != 0 {
		t.Fatalf("ti: exit %d: %s", code, stderr)
	}
	if got, err := adi.Load(a1111); err != nil || got.Trigger != "<pray>" || len(got.Vectors) != 1 {
		t.Errorf("a1111 export: %+v %v", got, err)
	}

	// The generated identifier works in `kata generate`'s pipeline; a
	// narrower one is refused when continuing training.
	narrow := filepath.Join(t.TempDir(), "narrow.safetensors")
	nid, _ := adi.NewIdentifier("narrow", adi.MethodTI, 1, make([]float32, 8))
	nid.Vectors[0][0] = 1
	if err := adi.Save(narrow, nid); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runMain("train", "--model", sdtest.TinyDir(), "--images", images, "--name", "x", "--out",
		filepath.Join(t.TempDir(), "x.safetensors"), "--init-from", narrow, "--steps", "1", "--method", "p+")
	if code != 1 || !strings.Contains(stderr, "text width 8") {
		t.Errorf("identifier for another width: exit %d, %q", code, stderr)
	}
}

// TestTrainArgsContrast: --negatives, --contrast-strength and --lazy-adam
// reach adi.Options, with adi's defaults when not given.
func TestTrainArgsContrast(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want adi.ContrastOptions
		lazy bool
	}{
		{nil, adi.ContrastOptions{PerExemplar: adi.DefaultContrastPerExemplar, Strength: adi.DefaultContrastStrength}, false},
		{[]string{"--negatives", "4", "--contrast-strength", "0.8", "--lazy-adam"}, adi.ContrastOptions{PerExemplar: 4, Strength: 0.8}, true},
	} {
		a, err := parseTrainArgs(Env{Stdout: io.Discard, Stderr: io.Discard}, append([]string{"--model", "m", "--images", "x", "--name", "a"}, tc.args...))
		if err != nil {
			t.Fatal(err)
		}
		c := a.trainOptions().Contrast
		if c.PerExemplar != tc.want.PerExemplar || c.Strength != tc.want.Strength {
			t.Errorf("%v: contrast %+v, want %+v", tc.args, c, tc.want)
		}
		if lazy := a.trainOptions().AdamW.Lazy; lazy != tc.lazy {
			t.Errorf("%v: lazy AdamW %v, want %v", tc.args, lazy, tc.lazy)
		}
		if m := a.trainOptions().Mask; m != adi.DefaultMaskConfig() {
			t.Errorf("%v: mask %+v, want adi's default", tc.args, m)
		}
	}
}

func TestTrainCommandErrors(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"empty folder", []string{"--model", "m", "--images", empty, "--name", "a"}, 1, "no pictures"},
		{"no name", []string{"--model", "m", "--images", empty}, 2, "--name"},
		{"no images", []string{"--model", "m", "--name", "a"}, 2, "--images"},
		{"bad method", []string{"--model", "m", "--images", empty, "--name", "a", "--method", "dreambooth"}, 2, "unknown method"},
		{"bad beta", []string{"--model", "m", "--images", empty, "--name", "a", "--beta", "2"}, 2, "--beta"},
		{"no negatives", []string{"--model", "m", "--images", empty, "--name", "a", "--negatives", "0"}, 2, "--negatives must be at least 1"},
		{"bad strength", []string{"--model", "m", "--images", empty, "--name", "a", "--contrast-strength", "1.5"}, 2, "--contrast-strength 1.5 outside"},
		{"bad name", []string{"--model", "m", "--images", empty, "--name", "sit (2)"}, 2, "makes no trigger"},
		{"export needs ti", []string{"--model", "m", "--images", empty, "--name", "a", "--export-a1111", "x"}, 2, "--method ti"},
	} {
		code, _, stderr := runMain(append([]string{"train"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d containing %q", c.name, code, stderr, c.code, c.want)
		}
	}
}
