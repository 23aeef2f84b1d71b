package lora

import (
	gocontext "context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"kata/model/backend"
	"kata/model/safetensors"
	"kata/model/sd"
	"kata/model/sd/sdtest"
)

var (
	backendOnce sync.Once
	testBackend backends.Backend
	backendErr  error
)

func fixtureBackend(t testing.TB) backends.Backend {
	t.Helper()
	backendOnce.Do(func() { testBackend, backendErr = backend.New(sdtest.Backend()) })
	if backendErr != nil {
		t.Fatal(backendErr)
	}
	return testBackend
}

func tiny(t testing.TB) *sd.Model {
	t.Helper()
	m, err := sd.Load(sdtest.TinyDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Finalize)
	return m
}

// factor is one LoRA layer to write: the module (diffusers path with its
// component), the weight's dims, rank and alpha (0: none written).
type factor struct {
	component, module string
	dims              []int
	rank              int
	alpha             float64
	down, up          []float32
}

// fixtureFactors are layers of every kind sd-tiny has: UNet linear (attn
// to_q, ff), 1x1 conv (proj_in; SD 1.x has use_linear_projection false),
// 3x3 conv (resnet conv1), text-encoder linear (q_proj, fc1).
func fixtureFactors(seed uint64) []*factor {
	fs := []*factor{
		{component: "unet", module: "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", dims: []int{32, 32}, rank: 4, alpha: 2},
		{component: "unet", module: "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj", dims: []int{512, 64}, rank: 8, alpha: 8},
		{component: "unet", module: "down_blocks.0.attentions.0.proj_in", dims: []int{32, 32, 1, 1}, rank: 2, alpha: 1},
		{component: "unet", module: "down_blocks.0.resnets.0.conv1", dims: []int{32, 32, 3, 3}, rank: 4, alpha: 4},
		{component: "text_encoder", module: "text_model.encoder.layers.0.self_attn.q_proj", dims: []int{32, 32}, rank: 4, alpha: 1},
		{component: "text_encoder", module: "text_model.encoder.layers.1.mlp.fc1", dims: []int{64, 32}, rank: 2},
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, f := range fs {
		in := 1
		for _, d := range f.dims[1:] {
			in *= d
		}
		f.down = make([]float32, f.rank*in)
		f.up = make([]float32, f.dims[0]*f.rank)
		for i := range f.down {
			f.down[i] = float32(rng.NormFloat64() * 0.3)
		}
		for i := range f.up {
			f.up[i] = float32(rng.NormFloat64() * 0.3)
		}
	}
	return fs
}

// writeKohya writes the layers in kohya-ss's layout (sd-scripts
// networks/lora.py, as AUTOMATIC1111 reads it): "lora_unet_" or "lora_te_"
// + the module path with "_" for "."; ".lora_down.weight" [rank, in(, kh,
// kw)], ".lora_up.weight" [out, rank(, 1, 1)], ".alpha" a scalar.
func writeKohya(t testing.TB, path string, fs []*factor, extra ...safetensors.Tensor) {
	t.Helper()
	var ts []safetensors.Tensor
	for _, f := range fs {
		prefix := map[string]string{"unet": "lora_unet_", "text_encoder": "lora_te_"}[f.component]
		name := prefix + strings.ReplaceAll(f.module, ".", "_")
		down, up := []int{f.rank, f.dims[1]}, []int{f.dims[0], f.rank}
		if len(f.dims) == 4 {
			down, up = []int{f.rank, f.dims[1], f.dims[2], f.dims[3]}, []int{f.dims[0], f.rank, 1, 1}
		}
		ts = append(ts, safetensors.F32Tensor(name+".lora_down.weight", down, f.down),
			safetensors.F32Tensor(name+".lora_up.weight", up, f.up))
		if f.alpha != 0 {
			ts = append(ts, safetensors.F32Tensor(name+".alpha", []int{}, []float32{float32(f.alpha)}))
		}
	}
	if err := safetensors.Write(path, append(ts, extra...), map[string]string{"ss_network_module": "networks.lora"}); err != nil {
		t.Fatal(err)
	}
}

// writePEFT writes the layers in diffusers' PEFT layout
// (StableDiffusionPipeline.save_lora_weights): "unet.<module>.lora_A.weight"
// (down), "unet.<module>.lora_B.weight" (up), "text_encoder.<module>..."; no
// alpha (scale 1), so the factors' alpha is ignored here.
func writePEFT(t *testing.T, path string, fs []*factor) {
	t.Helper()
	var ts []safetensors.Tensor
	for _, f := range fs {
		name := f.component + "." + f.module
		down, up := []int{f.rank, f.dims[1]}, []int{f.dims[0], f.rank}
		if len(f.dims) == 4 {
			down, up = []int{f.rank, f.dims[1], f.dims[2], f.dims[3]}, []int{f.dims[0], f.rank, 1, 1}
		}
		ts = append(ts, safetensors.F32Tensor(name+".lora_A.weight", down, f.down),
			safetensors.F32Tensor(name+".lora_B.weight", up, f.up))
	}
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// handMerge adds w·scale·up×down to m's weights with plain float64 loops
// over the weight's own indices, independently of Layer.Delta.
func handMerge(t *testing.T, m *sd.Model, fs []*factor, w float64, useAlpha bool) {
	t.Helper()
	for _, f := range fs {
		key := f.component + "/" + f.module + ".weight"
		data, dims, err := m.Weight(key)
		if err != nil {
			t.Fatal(err)
		}
		scale := 1.0
		if useAlpha && f.alpha != 0 {
			scale = f.alpha / float64(f.rank)
		}
		kk := 1
		if len(dims) == 4 {
			kk = dims[2] * dims[3]
		}
		in := dims[1]
		for o := 0; o < dims[0]; o++ {
			for i := 0; i < in; i++ {
				for s := 0; s < kk; s++ {
					var sum float64
					for r := 0; r < f.rank; r++ {
						sum += float64(f.up[o*f.rank+r]) * float64(f.down[(r*in+i)*kk+s])
					}
					idx := (o*in+i)*kk + s
					data[idx] = float32(float64(data[idx]) + w*scale*sum)
				}
			}
		}
		if err := m.SetWeight(key, data); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadLayouts(t *testing.T) {
	dir := t.TempDir()
	fs := fixtureFactors(1)
	kohya, peft := filepath.Join(dir, "detail.safetensors"), filepath.Join(dir, "style.safetensors")
	writeKohya(t, kohya, fs, safetensors.F32Tensor("lora_unet_x.hada_w1_a", []int{1}, []float32{1}))
	writePEFT(t, peft, fs)
	for _, c := range []struct {
		path, name, layer string
		alpha             float64
		unsupported       int
	}{
		{kohya, "detail", "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q", 2, 1},
		{peft, "style", "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q", 0, 0},
	} {
		l, err := Load(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if l.Name != c.name || len(l.Layers) != len(fs) || len(l.Unsupported) != c.unsupported {
			t.Errorf("%s: name %q, %d layers, unsupported %v", c.path, l.Name, len(l.Layers), l.Unsupported)
		}
		var found *Layer
		for _, x := range l.Layers {
			if x.Name == c.layer {
				found = x
			}
		}
		if found == nil {
			t.Fatalf("%s: layer %s missing", c.path, c.layer)
		}
		wantScale := 1.0
		if c.alpha != 0 {
			wantScale = c.alpha / 4
		}
		if found.Alpha != c.alpha || found.Rank() != 4 || found.Scale() != wantScale {
			t.Errorf("%s: alpha %g rank %d scale %g", c.path, found.Alpha, found.Rank(), found.Scale())
		}
		// The hash covers the bytes after the header, computed here directly.
		raw, err := os.ReadFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		n := binary.LittleEndian.Uint64(raw[:8])
		sum := sha256.Sum256(raw[8+n:])
		if want := hex.EncodeToString(sum[:]); l.SHA256 != want || l.Hash != want[:12] {
			t.Errorf("%s: hash %s / %s, want %s", c.path, l.SHA256, l.Hash, want)
		}
	}
	a, _ := Load(kohya)
	b, _ := Load(peft)
	a.Name = "add:detail,x"
	if got, want := HashesParameter([]*LoRA{a, b}), "adddetailx: "+a.Hash+", style: "+b.Hash; got != want {
		t.Errorf("hashes %q, want %q", got, want)
	}
}

// diffusers' attention-processor layout (before PEFT):
// "<attention>.processor.to_q_lora.down.weight" [rank, in] and ".up.weight".
func TestLoadAttnProcs(t *testing.T) {
	p := filepath.Join(t.TempDir(), "procs.safetensors")
	one := make([]float32, 2*32)
	err := safetensors.Write(p, []safetensors.Tensor{
		safetensors.F32Tensor("down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight", []int{2, 32}, one),
		safetensors.F32Tensor("down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.up.weight", []int{32, 2}, one),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := Apply(tiny(t), Use{l, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(patch.Changed) != 1 || patch.Changed[0] != "unet/down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight" {
		t.Errorf("changed %v", patch.Changed)
	}
}

// A hash recorded in the metadata (kohya's sshs_model_hash) wins, as in
// AUTOMATIC1111; a malformed one is ignored.
func TestHashFromMetadata(t *testing.T) {
	dir := t.TempDir()
	ts := []safetensors.Tensor{
		safetensors.F32Tensor("x.lora_A.weight", []int{1, 2}, []float32{1, 2}),
		safetensors.F32Tensor("x.lora_B.weight", []int{2, 1}, []float32{1, 2}),
	}
	want := strings.Repeat("ab12", 16)
	for meta, hash := range map[string]string{want: want, "xyz": ""} {
		p := filepath.Join(dir, "m.safetensors")
		if err := safetensors.Write(p, ts, map[string]string{"sshs_model_hash": meta}); err != nil {
			t.Fatal(err)
		}
		l, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if hash == "" {
			hash, _ = AddnetHash(p)
		}
		if l.SHA256 != hash || l.Hash != hash[:12] {
			t.Errorf("metadata %q: hash %s, want %s", meta, l.SHA256, hash)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, ts ...safetensors.Tensor) string {
		p := filepath.Join(dir, name)
		if err := safetensors.Write(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one := []float32{1, 2, 3, 4}
	for name, p := range map[string]string{
		"not lora":   write("a.safetensors", safetensors.F32Tensor("model.weight", []int{2, 2}, one)),
		"no up":      write("b.safetensors", safetensors.F32Tensor("lora_unet_a.lora_down.weight", []int{2, 2}, one)),
		"bad rank":   write("c.safetensors", safetensors.F32Tensor("x.lora_A.weight", []int{2, 2}, one), safetensors.F32Tensor("x.lora_B.weight", []int{4, 1}, one)),
		"mixed rank": write("d.safetensors", safetensors.F32Tensor("x.lora_A.weight", []int{1, 4}, one), safetensors.F32Tensor("x.lora_B.weight", []int{1, 1, 2, 2}, one)),
		"missing":    filepath.Join(dir, "none.safetensors"),
	} {
		if _, err := Load(p); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestApplyEqualsHandMerge applies a kohya LoRA (weight 0.8) and a PEFT LoRA
// (text 0.5, UNet 0.3) to sd-tiny and compares the weights, and an image,
// with a copy of the model whose weights the test merged by hand.
func TestApplyEqualsHandMerge(t *testing.T) {
	dir := t.TempDir()
	fa, fb := fixtureFactors(1), fixtureFactors(2)
	pa, pb := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	writeKohya(t, pa, fa)
	writePEFT(t, pb, fb)
	la, err := Load(pa)
	if err != nil {
		t.Fatal(err)
	}
	lb, err := Load(pb)
	if err != nil {
		t.Fatal(err)
	}

	applied, merged := tiny(t), tiny(t)
	patch, err := Apply(applied, Use{la, 0.8, 0.8}, Use{lb, 0.5, 0.3})
	if err != nil {
		t.Fatal(err)
	}
	if len(patch.Changed) != len(fa) || len(patch.Ignored) != 0 {
		t.Errorf("changed %v, ignored %v", patch.Changed, patch.Ignored)
	}
	handMerge(t, merged, fa, 0.8, true)
	var te, un []*factor
	for _, f := range fb {
		if f.component == "unet" {
			un = append(un, f)
		} else {
			te = append(te, f)
		}
	}
	handMerge(t, merged, te, 0.5, false)
	handMerge(t, merged, un, 0.3, false)
	for key := range applied.WeightDims() {
		a, _, _ := applied.Weight(key)
		b, _, _ := merged.Weight(key)
		if d := maxDiff(a, b); d > 1e-5 {
			t.Errorf("%s: applied and hand-merged weights differ by %g", key, d)
		}
	}

	gen := func(m *sd.Model) []float32 {
		t.Helper()
		p, err := sd.NewPipeline(fixtureBackend(t), m)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Finalize()
		r, err := p.Generate(gocontext.Background(), sd.GenerateOptions{Prompt: "a cat", Negative: "blurry", Steps: 3, Sampler: "Euler", Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		return r.Decoded
	}
	withLoRA, byHand := gen(applied), gen(merged)
	if d := maxDiff(withLoRA, byHand); d > 1e-4 {
		t.Errorf("image with LoRA and image of the hand-merged model differ by %g", d)
	}
	if err := patch.Restore(); err != nil {
		t.Fatal(err)
	}
	base := gen(tiny(t))
	restored := gen(applied)
	if d := maxDiff(restored, base); d != 0 {
		t.Errorf("restored model's image differs from the base model's by %g", d)
	}
	if d := maxDiff(withLoRA, base); d < 1e-3 {
		t.Errorf("the LoRA changed the image by only %g", d)
	}
}

func TestApplyMatchErrors(t *testing.T) {
	dir := t.TempDir()
	m := tiny(t)
	orig, _, _ := m.Weight("unet/down_blocks.0.resnets.0.conv1.weight")
	fs := fixtureFactors(3)
	alien := filepath.Join(dir, "sdxl.safetensors")
	// SDXL text-encoder names ("lora_te1_") and a module sd-tiny lacks.
	writeKohya(t, alien, []*factor{{component: "unet", module: "down_blocks.9.attentions.0.proj_in", dims: []int{32, 32}, rank: 1,
		down: make([]float32, 32), up: make([]float32, 32)}})
	l, err := Load(alien)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(m, Use{l, 1, 1}); err == nil || !strings.Contains(err.Error(), "none of its 1 layers") {
		t.Errorf("a LoRA matching nothing: %v", err)
	}

	partial := filepath.Join(dir, "partial.safetensors")
	extra := &factor{component: "unet", module: "down_blocks.7.resnets.0.conv1", dims: []int{32, 32}, rank: 1,
		down: make([]float32, 32), up: make([]float32, 32)}
	writeKohya(t, partial, append(fs[3:4], extra), safetensors.F32Tensor("lora_unet_y.hada_w1_a", []int{1}, []float32{1}))
	lp, err := Load(partial)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Apply(m, Use{lp, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"lora_unet_down_blocks_7_resnets_0_conv1", "lora_unet_y.hada_w1_a"}
	if got := p.Ignored["partial"]; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("ignored %v, want %v", got, want)
	}
	if len(p.Changed) != 1 || p.Changed[0] != "unet/down_blocks.0.resnets.0.conv1.weight" {
		t.Errorf("changed %v", p.Changed)
	}
	if err := p.Restore(); err != nil {
		t.Fatal(err)
	}
	if now, _, _ := m.Weight("unet/down_blocks.0.resnets.0.conv1.weight"); maxDiff(now, orig) != 0 {
		t.Error("Restore did not put the weight back")
	}

	// A layer whose product does not fit its weight is an error, and m is unchanged.
	wrong := filepath.Join(dir, "wrong.safetensors")
	writeKohya(t, wrong, []*factor{{component: "unet", module: "down_blocks.0.resnets.0.conv1", dims: []int{32, 16}, rank: 1,
		down: make([]float32, 16), up: make([]float32, 32)}})
	lw, err := Load(wrong)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(m, Use{lp, 1, 1}, Use{lw, 1, 1}); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("misfit layer: %v", err)
	}
	if now, _, _ := m.Weight("unet/down_blocks.0.resnets.0.conv1.weight"); maxDiff(now, orig) != 0 {
		t.Error("a failed Apply changed the model")
	}
}

// Every UNet weight of the single-file fixture, named as a kohya LoRA
// with LDM module names ("lora_unet_" + the LDM path with "_"), maps to
// the diffusers key the single-file loader gives that tensor.
func TestTargetLDMNames(t *testing.T) {
	m := tiny(t)
	weights := m.WeightDims()
	f, err := safetensors.Open(sdtest.TinySingleFile())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const prefix = "model.diffusion_model."
	checked := 0
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".weight") || (len(info.Shape) != 2 && len(info.Shape) != 4) {
			continue
		}
		c, d, ok := sd.SingleFileName(name, m.UNet, m.VAE)
		if !ok {
			continue
		}
		layer := "lora_unet_" + strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(name, prefix), ".weight"), ".", "_")
		got, ok := Target(layer, weights, m.UNet)
		if want := c + "/" + d; !ok || got != want {
			t.Errorf("%s: %q %v, want %q", layer, got, ok, want)
		}
		checked++
	}
	if checked < 50 {
		t.Errorf("only %d UNet weights checked", checked)
	}
	if _, ok := Target("lora_unet_input_blocks_99_1_proj_in", weights, m.UNet); ok {
		t.Error("a block sd-tiny lacks matched")
	}
}

func TestTarget(t *testing.T) {
	weights := map[string][]int{
		"unet/down_blocks.0.attentions.0.proj_in.weight":                             {32, 32, 1, 1},
		"unet/down_blocks.0.attentions.0.proj_in.bias":                               {32},
		"text_encoder/text_model.encoder.layers.0.self_attn.q_proj.weight":           {32, 32},
		"unet/down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight":     {32, 32},
		"unet/down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.weight": {32, 32},
		"vae/decoder.conv_in.weight":                                                 {32, 4, 3, 3},
	}
	for layer, want := range map[string]string{
		"lora_unet_down_blocks_0_attentions_0_proj_in":              "unet/down_blocks.0.attentions.0.proj_in.weight",
		"unet.down_blocks.0.attentions.0.proj_in":                   "unet/down_blocks.0.attentions.0.proj_in.weight",
		"base_model.model.unet.down_blocks.0.attentions.0.proj_in":  "unet/down_blocks.0.attentions.0.proj_in.weight",
		"lora_te_text_model_encoder_layers_0_self_attn_q_proj":      "text_encoder/text_model.encoder.layers.0.self_attn.q_proj.weight",
		"text_encoder.text_model.encoder.layers.0.self_attn.q_proj": "text_encoder/text_model.encoder.layers.0.self_attn.q_proj.weight",
		"lora_te1_text_model_encoder_layers_0_self_attn_q_proj":     "",
		"lora_vae_decoder_conv_in":                                  "",
		"unet.down_blocks.0.attentions.0.proj_out":                  "",
	} {
		got, ok := Target(layer, weights, nil)
		if (want == "") == ok || (ok && got != want) {
			t.Errorf("%s -> %q %v, want %q", layer, got, ok, want)
		}
	}
}

// A model loaded from the single-file checkpoint (LDM names) takes the same
// LoRA onto the same diffusers-named weights.
func TestApplySingleFile(t *testing.T) {
	single, err := sd.Load(sdtest.TinySingleFile(), &sd.LoadOptions{ConfigDir: sdtest.TinyDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Finalize()
	fs := fixtureFactors(4)
	p := filepath.Join(t.TempDir(), "k.safetensors")
	writeKohya(t, p, fs)
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(single, Use{l, 0.7, 0.7}); err != nil {
		t.Fatal(err)
	}
	merged := tiny(t)
	handMerge(t, merged, fs, 0.7, true)
	for _, f := range fs {
		key := f.component + "/" + f.module + ".weight"
		a, _, _ := single.Weight(key)
		b, _, _ := merged.Weight(key)
		if d := maxDiff(a, b); d > 1e-5 {
			t.Errorf("%s: single-file model with LoRA differs from the hand merge by %g", key, d)
		}
	}
}
