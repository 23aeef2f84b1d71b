package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/lora"
	"kata/model/safetensors"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/sd/sdtest"
	"kata/store/contenthash"
	"kata/store/imagemeta"
)

// readSettings reads the settings of a PNG kata generate wrote.
func readSettings(t *testing.T, path string) imagemeta.Settings {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := imagemeta.ReadPNG(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// samePixels reports whether two PNG files hold the same pixels.
func samePixels(t *testing.T, a, b string) bool {
	t.Helper()
	pa, err := imageBytes(a)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := imageBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(pa, pb)
}

// writeTestLoRA writes a kohya LoRA of rank 2 on one text-encoder and one
// UNet cross-attention projection of sd-tiny, plus a layer that matches
// nothing when partial is set.
func writeTestLoRA(t *testing.T, path string, partial bool) {
	t.Helper()
	m, err := sd.Load(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	dims := m.WeightDims()
	var ts []safetensors.Tensor
	add := func(name string, d []int) {
		const rank = 2
		down, up := make([]float32, rank*d[1]), make([]float32, d[0]*rank)
		for i := range down {
			down[i] = float32((i*7)%11-5) / 5
		}
		for i := range up {
			up[i] = float32((i*3)%13-6) / 6
		}
		ts = append(ts, safetensors.F32Tensor(name+".lora_down.weight", []int{rank, d[1]}, down),
			safetensors.F32Tensor(name+".lora_up.weight", []int{d[0], rank}, up),
			safetensors.F32Tensor(name+".alpha", []int{}, []float32{1}))
	}
	te := "text_encoder/text_model.encoder.layers.0.self_attn.q_proj.weight"
	unet := "unet/down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"
	for _, k := range []string{te, unet} {
		if dims[k] == nil {
			t.Fatalf("sd-tiny has no %s", k)
		}
	}
	add("lora_te_text_model_encoder_layers_0_self_attn_q_proj", dims[te])
	add("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", dims[unet])
	if partial {
		add("lora_unet_no_such_module", []int{4, 4})
	}
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateLoRA applies a LoRA by prompt tag (found in --lora-dir or
// $KATA_LORA_DIR) and by --lora FILE:w alike, records its hash as
// AUTOMATIC1111 does, warns about what it ignores, and refuses a LoRA that
// matches nothing.
func TestGenerateLoRA(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	t.Setenv(EnvLoRADir, "")
	dir := t.TempDir()
	loraDir := filepath.Join(dir, "loras")
	if err := os.MkdirAll(filepath.Join(loraDir, "styles"), 0o755); err != nil {
		t.Fatal(err)
	}
	detail := filepath.Join(loraDir, "styles", "detail.safetensors")
	writeTestLoRA(t, detail, true)
	l, err := lora.Load(detail)
	if err != nil {
		t.Fatal(err)
	}
	base := []string{"generate", "--model", sdtest.TinyDir(), "--steps", "2", "--seed", "4", "--negative", "blurry"}
	run := func(name string, args ...string) (string, string) {
		t.Helper()
		out := filepath.Join(dir, name+".png")
		code, _, stderr := runMain(append(append(base, args...), "--out", out)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr)
		}
		return out, stderr
	}
	plain, _ := run("plain", "--prompt", "a cat")
	tagged, stderr := run("tag", "--prompt", "a cat <lora:detail:0.8> <hypernet:old:1>", "--lora-dir", loraDir)
	if !strings.Contains(stderr, "<hypernet:old> ignored") || !strings.Contains(stderr, "lora_unet_no_such_module") {
		t.Errorf("warnings %q: want the hypernet tag and the unmatched layer", stderr)
	}
	s := readSettings(t, tagged)
	if s.Prompt != "a cat <lora:detail:0.8> <hypernet:old:1>" || s.LoraHashes != "detail: "+l.Hash {
		t.Errorf("prompt %q, Lora hashes %q", s.Prompt, s.LoraHashes)
	}
	t.Setenv(EnvLoRADir, loraDir)
	fromEnv, _ := run("env", "--prompt", "a cat <lora:detail:0.8>")
	file, _ := run("file", "--prompt", "a cat", "--lora", detail+":0.8")
	if s := readSettings(t, file); s.Prompt != "a cat <lora:detail:0.8>" || s.LoraHashes != "detail: "+l.Hash {
		t.Errorf("--lora recorded as prompt %q, Lora hashes %q", s.Prompt, s.LoraHashes)
	}
	if samePixels(t, plain, tagged) {
		t.Error("the LoRA did not change the image")
	}
	if !samePixels(t, tagged, fromEnv) || !samePixels(t, tagged, file) {
		t.Error("the tag with --lora-dir, with $KATA_LORA_DIR and --lora FILE:0.8 draw differently")
	}

	other := filepath.Join(dir, "other.safetensors")
	if err := safetensors.Write(other, []safetensors.Tensor{
		safetensors.F32Tensor("lora_unet_nothing.lora_down.weight", []int{1, 4}, make([]float32, 4)),
		safetensors.F32Tensor("lora_unet_nothing.lora_up.weight", []int{4, 1}, make([]float32, 4)),
	}, nil); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvLoRADir, "")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"matches nothing", []string{"--prompt", "a cat", "--lora", other}, 1, "none of its 1 layers match"},
		{"no folder", []string{"--prompt", "a cat <lora:detail:1>"}, 1, EnvLoRADir},
		{"unknown name", []string{"--prompt", "a cat <lora:nope:1>", "--lora-dir", loraDir}, 1, "nope"},
		{"missing file", []string{"--prompt", "a cat", "--lora", filepath.Join(dir, "missing.safetensors:0.5")}, 1, "missing.safetensors"},
	} {
		code, _, stderr := runMain(append(append(base, c.args...), "--out", filepath.Join(dir, "x.png"))...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d mentioning %q", c.name, code, stderr, c.code, c.want)
		}
	}
}

func TestParseLoRAFile(t *testing.T) {
	for _, c := range []struct {
		in   string
		want LoRAFile
	}{
		{"a.safetensors", LoRAFile{"a.safetensors", 1}},
		{"a.safetensors:0.8", LoRAFile{"a.safetensors", 0.8}},
		{`C:\loras\a.safetensors`, LoRAFile{`C:\loras\a.safetensors`, 1}},
		{`C:\loras\a.safetensors:-0.5`, LoRAFile{`C:\loras\a.safetensors`, -0.5}},
	} {
		got, err := ParseLoRAFile(c.in)
		if err != nil || got != c.want {
			t.Errorf("%q: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	if _, err := ParseLoRAFile(""); err == nil {
		t.Error("empty: no error")
	}
}

// TestGenerateBatchAndSchedule makes a batch of two (seeds 7 and 8, as
// two runs make them) with a schedule type given apart from the sampler,
// recorded as AUTOMATIC1111 1.9+ writes it.
func TestGenerateBatchAndSchedule(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	dir := t.TempDir()
	base := []string{"generate", "--model", sdtest.TinyDir(), "--prompt", "a cat", "--steps", "2"}
	code, stdout, stderr := runMain(append(base, "--seed", "7", "--batch", "2", "--sampler", "DPM++ SDE",
		"--schedule-type", "Exponential", "--out", filepath.Join(dir, "b.png"))...)
	if code != 0 {
		t.Fatalf("batch: exit %d: %s", code, stderr)
	}
	b7, b8 := filepath.Join(dir, "b-7.png"), filepath.Join(dir, "b-8.png")
	if !strings.Contains(stdout, "b-7.png (seed 7)") || !strings.Contains(stdout, "b-8.png (seed 8)") {
		t.Errorf("stdout %q", stdout)
	}
	s := readSettings(t, b8)
	if s.Seed != 8 || s.Sampler != "DPM++ SDE" || s.ScheduleType != "Exponential" {
		t.Errorf("settings %+v", s)
	}
	if c, err := scheduler.Canonical(s.Sampler, s.ScheduleType); err != nil || c != "dpmpp_sde_exponential" {
		t.Errorf("read back as %q, %v", c, err)
	}
	one := filepath.Join(dir, "one.png")
	if code, _, stderr := runMain(append(base, "--seed", "8", "--sampler", "DPM++ SDE Exponential", "--out", one)...); code != 0 {
		t.Fatalf("seed 8: %s", stderr)
	}
	if !samePixels(t, b8, one) || samePixels(t, b7, b8) {
		t.Error("the batch's second image is not the image of seed 8")
	}
	for _, bad := range [][]string{
		{"--batch", "0"}, {"--schedule-type", "Sometimes"}, {"--sampler", "DDIM", "--schedule-type", "Karras"},
		{"--sampler", "DPM++ 2M Karras", "--schedule-type", "Exponential"},
	} {
		if code, _, _ := runMain(append(base, bad...)...); code != 2 {
			t.Errorf("%q: exit %d, want 2", bad, code)
		}
	}
}

// TestGenerateVAE runs a checkpoint without VAE: a clear error, then with
// --vae (its own VAE as a separate LDM file) the image of the full
// checkpoint, with "VAE" and "VAE hash" recorded.
func TestGenerateVAE(t *testing.T) {
	t.Setenv("KATA_BACKEND", "go")
	dir := t.TempDir()
	f, err := safetensors.Open(sdtest.TinySingleFile())
	if err != nil {
		t.Fatal(err)
	}
	var rest, vae []safetensors.Tensor
	for _, n := range f.Names() {
		data, shape, err := f.Float32(n)
		if err != nil {
			t.Fatal(err)
		}
		if name, ok := strings.CutPrefix(n, "first_stage_model."); ok {
			vae = append(vae, safetensors.F32Tensor(name, shape, data))
		} else {
			rest = append(rest, safetensors.F32Tensor(n, shape, data))
		}
	}
	f.Close()
	ckpt, vaeFile := filepath.Join(dir, "novae.safetensors"), filepath.Join(dir, "my-vae.safetensors")
	if err := safetensors.Write(ckpt, rest, nil); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(vaeFile, vae, nil); err != nil {
		t.Fatal(err)
	}
	args := []string{"generate", "--config", sdtest.TinyDir(), "--prompt", "a cat", "--steps", "2", "--seed", "1"}
	code, _, stderr := runMain(append(args, "--model", ckpt, "--out", filepath.Join(dir, "x.png"))...)
	if code != 1 || !strings.Contains(stderr, "no VAE") || !strings.Contains(stderr, "--vae") {
		t.Errorf("no VAE: exit %d, %q", code, stderr)
	}
	withVAE, full := filepath.Join(dir, "vae.png"), filepath.Join(dir, "full.png")
	if code, _, stderr := runMain(append(args, "--model", ckpt, "--vae", vaeFile, "--out", withVAE)...); code != 0 {
		t.Fatalf("--vae: %s", stderr)
	}
	if code, _, stderr := runMain(append(args, "--model", sdtest.TinySingleFile(), "--out", full)...); code != 0 {
		t.Fatalf("full checkpoint: %s", stderr)
	}
	if !samePixels(t, withVAE, full) {
		t.Error("the checkpoint with its VAE apart draws differently")
	}
	h, _ := contenthash.File(vaeFile)
	if s := readSettings(t, withVAE); s.VAE != "my-vae.safetensors" || s.VAEHash != h[:10] {
		t.Errorf("VAE %q, VAE hash %q", s.VAE, s.VAEHash)
	}
	if s := readSettings(t, full); s.VAE != "" || s.VAEHash != "" {
		t.Errorf("the checkpoint's own VAE recorded as %q %q", s.VAE, s.VAEHash)
	}
}
