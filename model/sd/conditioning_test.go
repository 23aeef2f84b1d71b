package sd

import (
	gocontext "context"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// flat returns the values of a state returned by encodePrompts.
func flat(s any) []float32 { return tensors.MustCopyFlatData[float32](s.(*tensors.Tensor)) }

// emphasized applies A1111's "Original" emphasis to z [T, d] with float64
// arithmetic written out here, independently of package prompt.
func emphasized(z []float32, d int, w []float64) []float32 {
	var before, after float64
	for i, v := range z {
		before += float64(v)
		after += float64(v) * w[i/d]
	}
	out := make([]float32, len(z))
	for i, v := range z {
		out[i] = float32(float64(v) * w[i/d] * before / after)
	}
	return out
}

func checkClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	checkRel(t, what, tensors.FromFlatDataAndDimensions(got, len(got)), tensors.FromFlatDataAndDimensions(want, len(want)), tol)
}

// TestPromptEmphasis checks that "(word:w)", "(word)" and "[word]" scale
// their tokens' encodings and restore the chunk's mean as AUTOMATIC1111
// does, that an identifier inside a weighted span is weighted like the word
// it replaces (textual inversion and per-layer vectors), and that the plain
// prompt is encoded as before (the reference).
func TestPromptEmphasis(t *testing.T) {
	m := tinyModel(t, "diffusers")
	p, err := NewPipeline(fixtureBackend(t), m)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Text.HiddenSize
	plain, _, err := p.encodePrompts("a photo of a cat", "", nil, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	z := flat(plain[0])
	if len(z) != 77*d {
		t.Fatalf("plain prompt: %d values, want 77x%d", len(z), d)
	}
	// ids: BOS a photo of a cat EOS...: "cat" is position 5.
	weights := func(pos []int, w float64) []float64 {
		out := make([]float64, 77)
		for i := range out {
			out[i] = 1
		}
		for _, p := range pos {
			out[p] = w
		}
		return out
	}
	catID, _ := m.Tokenizer.TokenID("cat</w>")
	table := m.Ctx.InspectVariable("/text_encoder/text_model/embeddings/token_embedding", "weight")
	cat := tensors.MustCopyFlatData[float32](table.MustValue())[catID*d : (catID+1)*d]
	perLayer := make([][]float32, m.UNet.NumCrossAttentionLayers())
	for i := range perLayer {
		perLayer[i] = cat
	}
	for _, c := range []struct {
		text string
		ids  []Identifier
		want []float64
	}{
		{"a photo of a (cat:1.3)", nil, weights([]int{5}, 1.3)},
		{"a photo of a (cat)", nil, weights([]int{5}, 1.1)},
		{"a photo of a [cat]", nil, weights([]int{5}, 1/1.1)},
		{"a photo of a ((cat))", nil, weights([]int{5}, 1.1*1.1)},
		{"(a photo:0.5) of a cat", nil, weights([]int{1, 2}, 0.5)},
		{"a photo of a (<kitty>:1.3)", []Identifier{{Token: "<kitty>", Vectors: [][]float32{cat}}}, weights([]int{5}, 1.3)},
		{"a photo of a (<kitty>:1.3)", []Identifier{{Token: "<kitty>", Vectors: perLayer}}, weights([]int{5}, 1.3)},
	} {
		t.Run(c.text, func(t *testing.T) {
			got, _, err := p.encodePrompts(c.text, "", c.ids, 1, false)
			if err != nil {
				t.Fatal(err)
			}
			want := emphasized(z, d, c.want)
			for i, s := range got {
				checkClose(t, c.text, flat(s), want, 1e-5)
				if i > 0 && len(got) != m.UNet.NumCrossAttentionLayers() {
					t.Errorf("%d states", len(got))
				}
			}
		})
	}
}

// TestPromptSyntaxErrors names the prompt whose weight is not a number.
func TestPromptSyntaxErrors(t *testing.T) {
	p, err := NewPipeline(fixtureBackend(t), tinyModel(t, "diffusers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ prompt, negative, want string }{
		{"a (cat:1.2.3)", "", "generate: prompt: attention weight \"1.2.3\""},
		{"a cat", "(dog:1..2)", "generate: negative prompt: attention weight"},
	} {
		_, err := p.Generate(gocontext.Background(), GenerateOptions{Prompt: c.prompt, Negative: c.negative, Steps: 1})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q / %q: %v, want %q...", c.prompt, c.negative, err, c.want)
		}
	}
}

// TestLongPrompt checks A1111's long prompts on sd-tiny: a prompt of more
// than 75 tokens becomes two chunks whose encodings are concatenated (the
// first equal to the encoding of its own 75 tokens), the negative prompt
// keeps its one chunk, BREAK starts a new chunk, and the UNet's
// cross-attention takes the longer sequence (the tail of the prompt changes
// the image), guided with the negative prompt in a separate pass.
func TestLongPrompt(t *testing.T) {
	m := tinyModel(t, "diffusers")
	p, err := NewPipeline(fixtureBackend(t), m)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Text.HiddenSize
	// 80 "cat" tokens then "dog": no comma, so the first chunk is the first 75.
	long := strings.Repeat("cat ", 80) + "dog"
	cond, uncond, err := p.encodePrompts(long, "blurry", nil, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(flat(cond[0])); n != 2*77*d {
		t.Fatalf("long prompt: %d values, want 2x77x%d", n, d)
	}
	if n := len(flat(uncond[0])); n != 77*d {
		t.Fatalf("negative prompt: %d values, want 77x%d", n, d)
	}
	first, _, err := p.encodePrompts(strings.Repeat("cat ", 75), "", nil, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "first chunk", flat(cond[0])[:77*d], flat(first[0]), 1e-6)
	second, _, err := p.encodePrompts(strings.Repeat("cat ", 5)+"dog", "", nil, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	checkClose(t, "second chunk", flat(cond[0])[77*d:], flat(second[0]), 1e-6)
	brk, _, err := p.encodePrompts("a cat BREAK a dog", "", nil, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(flat(brk[0])); n != 2*77*d {
		t.Errorf("BREAK: %d values, want 2 chunks", n)
	}

	gen := func(prompt string) []float32 {
		t.Helper()
		r, err := p.Generate(gocontext.Background(), GenerateOptions{Prompt: prompt, Negative: "blurry", Steps: 2, Sampler: "euler", Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		return r.Decoded
	}
	a, b := gen(long), gen(strings.Repeat("cat ", 80)+"sofa")
	if e := relErr(t, "tail", tensors.FromFlatDataAndDimensions(a, len(a)), tensors.FromFlatDataAndDimensions(b, len(b))); e < 1e-6 {
		t.Errorf("the words after token 75 do not change the image (relative difference %.2g)", e)
	}
}

// TestDenoiserGuidance checks that guidance from two UNet passes (prompts
// of different lengths, or one image's passes run at once) is the guidance
// of the paired pass, and that a batch split into executions run at once
// predicts each image's noise as the whole batch does.
func TestDenoiserGuidance(t *testing.T) {
	p, err := NewPipeline(fixtureBackend(t), tinyModel(t, "diffusers"))
	if err != nil {
		t.Fatal(err)
	}
	cond, uncond, err := p.encodePrompts("a cat on a sofa", "blurry", nil, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	const nb, n = 3, 4 * 8 * 8
	noise := make([]float32, nb*n)
	for i := range noise {
		noise[i] = float32(i%17-8) / 8
	}
	step := tensors.FromFlatDataAndDimensions([]float32{501}, 1)
	scale := tensors.FromScalar(float32(7.5))
	paired, err := p.noisePrediction(tensors.FromFlatDataAndDimensions(noise, nb, 4, 8, 8), step, scale, pairStates(uncond, cond))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		images  int
		width   int
		twoPass bool // as for prompts of different lengths
	}{
		{"one image, one pass", 1, 1, false},
		{"one image, two passes one after another", 1, 1, true},
		{"one image, two passes at once", 1, 2, false},
		{"three images, two passes at once", 3, 2, true},
		{"three images in two parts at once", 3, 2, false},
		{"three images in three parts at once", 3, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := p.newDenoiser(4, 8, 8, 7.5, cond, uncond, tc.width)
			if err != nil {
				t.Fatal(err)
			}
			if tc.twoPass {
				d.paired = nil
			}
			got, err := d.predict(noise[:tc.images*n], tc.images, step)
			if err != nil {
				t.Fatal(err)
			}
			checkClose(t, "guided noise", got, paired[:tc.images*n], 1e-5)
		})
	}
}

// TestScheduleType checks that a schedule type given apart from the sampler
// name samples as the combined name does and is reported in Result.Sampler.
func TestScheduleType(t *testing.T) {
	p, err := NewPipeline(fixtureBackend(t), tinyModel(t, "diffusers"))
	if err != nil {
		t.Fatal(err)
	}
	base := GenerateOptions{Prompt: "a cat", Steps: 3, Seed: 9, Sampler: "DPM++ 2M Karras"}
	want, err := p.Generate(gocontext.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	o := base
	o.Sampler, o.ScheduleType = "DPM++ 2M", "Karras"
	got, err := p.Generate(gocontext.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sampler != "dpmpp_2m_karras" || string(got.Image.Pix) != string(want.Image.Pix) {
		t.Errorf("sampler %q; same image as DPM++ 2M Karras: %v", got.Sampler, string(got.Image.Pix) == string(want.Image.Pix))
	}
	o.Sampler, o.ScheduleType = "DDIM", "Karras"
	if _, err := p.Generate(gocontext.Background(), o); err == nil {
		t.Error("DDIM with a Karras schedule: no error")
	}
}
