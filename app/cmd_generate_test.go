package app

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/sd/sdtest"
	"kata/store"
	"kata/store/contenthash"
	"kata/store/imagemeta"
)

func TestGenerateCommand(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	dir := t.TempDir()
	out := filepath.Join(dir, "astronaut.png")
	args := []string{"generate", "--model", sdtest.TinyDir(), "--prompt", "an astronaut", "--negative", "blurry",
		"--steps", "3", "--sampler", "DPM++ 2M Karras", "--cfg", "5", "--seed", "7", "--out", out}
	code, stdout, stderr := runMain(args...)
	if code != 0 {
		t.Fatalf("generate: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "seed 7") || !strings.Contains(stderr, "3/3") {
		t.Errorf("output %q, progress %q", stdout, stderr)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("image file mode %v (%v), want 0644", st.Mode().Perm(), err)
	}
	s, err := imagemeta.ReadPNG(bytes.NewReader(first))
	if err != nil {
		t.Fatal(err)
	}
	if s.Prompt != "an astronaut" || s.Negative != "blurry" || s.Steps != 3 || s.Sampler != "DPM++ 2M" || s.ScheduleType != "Karras" ||
		s.CFG != 5 || s.Seed != 7 || s.Width != 64 || s.Height != 64 || s.Model != "sd-tiny" || s.ModelHash != "" {
		// A diffusers folder gets no "Model hash": A1111 computes none for it.
		t.Errorf("settings %+v", s)
	}

	// The same seed gives the same image from the single-file checkpoint
	// (whose tiny widths need the folder's configs).
	single := filepath.Join(dir, "single.png")
	args = append(args[:1:1], "--model", sdtest.TinySingleFile(), "--config", sdtest.TinyDir(), "--out", single)
	args = append(args, "--prompt", "an astronaut", "--negative", "blurry", "--steps", "3",
		"--sampler", "DPM++ 2M Karras", "--cfg", "5", "--seed", "7")
	if code, _, stderr := runMain(args...); code != 0 {
		t.Fatalf("single-file run: %s", stderr)
	}
	// A single file gets A1111's: the first 10 hex digits of its SHA-256.
	h, err := contenthash.File(sdtest.TinySingleFile())
	if err != nil {
		t.Fatal(err)
	}
	if s, err := store.ReadSettings(single); err != nil || s.ModelHash != h[:10] {
		t.Errorf("single-file model hash %q, want %q (%v)", s.ModelHash, h[:10], err)
	}
	a, errA := imageBytes(out)
	b, errB := imageBytes(single)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("same seed, other layout: different pixels (%v, %v)", errA, errB)
	}
	img2 := filepath.Join(dir, "img2img.png")
	code, _, stderr = runMain("generate", "--model", sdtest.TinyDir(), "--prompt", "an astronaut", "--steps", "4",
		"--seed", "1", "--init", out, "--strength", "0.5", "--sampler", "ddim", "--clip-skip", "2", "--out", img2)
	if code != 0 {
		t.Fatalf("img2img: %s", stderr)
	}
	f, err := os.Open(img2)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s, err := imagemeta.ReadPNG(f); err != nil || s.Strength != 0.5 || s.Sampler != "DDIM" || s.Extra["Clip skip"] != "2" {
		t.Errorf("img2img settings %+v, %v", s, err)
	}

	t.Setenv(EnvBuiltinModel, "none")
	if code, _, stderr := runMain("generate", "--prompt", "x"); code != 1 || !strings.Contains(stderr, "no built-in model") {
		t.Errorf("no --model in a build without a built-in model: exit %d, %s", code, stderr)
	}
	for _, bad := range [][]string{
		{"generate", "--prompt", "x", "--no-such-flag"},
		{"generate", "--model", sdtest.TinyDir(), "--sampler", "plms"},
		{"generate", "--model", sdtest.TinyDir(), "--width", "100"},
		{"generate", "--model", sdtest.TinyDir(), "--init", out, "--strength", "2"},
		{"generate", "--model", sdtest.TinyDir(), "extra"},
		{"generate", "--model", sdtest.TinyDir(), "--clip-skip", "0"},
	} {
		if code, _, _ := runMain(bad...); code != 2 {
			t.Errorf("%q: exit %d, want 2", bad, code)
		}
	}
	if code, _, stderr := runMain("generate", "--model", filepath.Join(dir, "missing"), "--prompt", "x"); code != 1 ||
		!strings.Contains(stderr, "missing") {
		t.Errorf("missing model: exit %d %s", code, stderr)
	}
}

// imageBytes decodes a PNG file to its RGBA pixels.
func imageBytes(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, err
	}
	if n, ok := img.(*image.NRGBA); ok {
		return n.Pix, nil
	}
	if r, ok := img.(*image.RGBA); ok {
		return r.Pix, nil
	}
	return nil, fmt.Errorf("%s: unexpected image type %T", path, img)
}

// TestGenerateWithIdentifiers uses learned identifiers in `kata generate`:
// two in one prompt, and the errors for an unknown placeholder and for an
// identifier trained on a text encoder of another width.
func TestGenerateWithIdentifiers(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	dir := t.TempDir()
	ids := map[string]string{}
	for i, name := range []string{"handstand", "salute"} {
		id, err := adi.NewIdentifier(name, adi.MethodPPlus, 16, make([]float32, 32))
		if err != nil {
			t.Fatal(err)
		}
		for l := range id.Vectors {
			id.Vectors[l][l%32] = float32(i + 1)
		}
		ids[name] = filepath.Join(dir, name+".safetensors")
		if err := adi.Save(ids[name], id); err != nil {
			t.Fatal(err)
		}
	}
	narrow, _ := adi.NewIdentifier("narrow", adi.MethodTI, 1, make([]float32, 8))
	ids["narrow"] = filepath.Join(dir, "narrow.safetensors")
	if err := adi.Save(ids["narrow"], narrow); err != nil {
		t.Fatal(err)
	}

	base := []string{"generate", "--model", sdtest.TinyDir(), "--steps", "2", "--seed", "3"}
	withBoth := filepath.Join(dir, "both.png")
	code, _, stderr := runMain(append(base, "--prompt", "a panda <handstand> next to a robot <salute>",
		"--identifier", ids["handstand"], "--identifier", ids["salute"], "--out", withBoth)...)
	if code != 0 {
		t.Fatalf("two identifiers: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(withBoth)
	if err != nil {
		t.Fatal(err)
	}
	s, err := imagemeta.ReadPNG(bytes.NewReader(data))
	// Named as the library names them: "name:" and 12 hex digits of the file's hash.
	var want []string
	for _, n := range []string{"handstand", "salute"} {
		h, _ := contenthash.File(ids[n])
		want = append(want, n+":"+h[:12])
	}
	if err != nil || strings.Join(s.Identifiers, ",") != strings.Join(want, ",") {
		t.Errorf("identifiers recorded in the PNG: %v, want %v (%v)", s.Identifiers, want, err)
	}
	text, err := imagemeta.ReadPNGText(bytes.NewReader(data))
	if err != nil || !strings.Contains(text["parameters"], `TI hashes: "handstand: `+want[0][len("handstand:"):]+", salute: ") {
		t.Errorf("parameters %q lack A1111's TI hashes (%v)", text["parameters"], err)
	}
	// An identifier loaded but not named in the prompts is not recorded.
	one := filepath.Join(dir, "one.png")
	if code, _, stderr := runMain(append(base, "--prompt", "a panda <handstand>", "--identifier", ids["handstand"],
		"--identifier", ids["salute"], "--out", one)...); code != 0 {
		t.Fatalf("one of two identifiers: %s", stderr)
	}
	if s, err := store.ReadSettings(one); err != nil || strings.Join(s.Identifiers, ",") != want[0] {
		t.Errorf("identifiers recorded for a prompt naming one: %v, want [%s] (%v)", s.Identifiers, want[0], err)
	}
	plain := filepath.Join(dir, "plain.png")
	if code, _, stderr := runMain(append(base, "--prompt", "a panda next to a robot", "--out", plain)...); code != 0 {
		t.Fatalf("plain prompt: %s", stderr)
	}
	a, _ := imageBytes(withBoth)
	b, _ := imageBytes(plain)
	if bytes.Equal(a, b) {
		t.Error("the identifiers did not change the image")
	}

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown placeholder", []string{"--prompt", "a panda <cartwheel>", "--identifier", ids["handstand"]}, "<cartwheel>"},
		{"other text width", []string{"--prompt", "a panda <narrow>", "--identifier", ids["narrow"]}, "width"},
	} {
		code, _, stderr := runMain(append(base, append(c.args, "--out", filepath.Join(dir, "x.png"))...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 mentioning %q", c.name, code, stderr, c.want)
		}
	}
}
