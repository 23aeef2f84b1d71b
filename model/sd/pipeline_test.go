package sd

import (
	gocontext "context"
	"errors"
	"image"
	"strings"
	"testing"

	"kata/model/scheduler"

	"github.com/gomlx/gomlx/pkg/core/tensors"
)

const e2ePrompt = "a photograph of an astronaut riding a horse"

func TestPipelineEndToEnd(t *testing.T) {
	noise := tensors.MustCopyFlatData[float32](refTensor(t, "e2e_init_noise"))
	wantSteps := tensors.MustCopyFlatData[float32](refTensor(t, "e2e_latents_per_step"))
	for _, layout := range layouts {
		t.Run(layout, func(t *testing.T) {
			p, err := NewPipeline(fixtureBackend(t), tinyModel(t, layout))
			if err != nil {
				t.Fatal(err)
			}
			var steps []float32
			sampling := 0 // OnSampling calls
			res, err := p.Generate(gocontext.Background(), GenerateOptions{
				Prompt: e2ePrompt, Negative: "", Steps: 4, Sampler: "DDIM", CFG: 7.5, InitNoise: noise,
				OnSampling: func() {
					if sampling++; len(steps) > 0 {
						t.Errorf("OnSampling after %d steps", len(steps)/64)
					}
				},
				OnStep: func(step, total int, latents []float32) {
					if total != 4 {
						t.Errorf("step %d of %d, want 4 steps", step, total)
					}
					steps = append(steps, latents...)
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if sampling != 1 {
				t.Errorf("OnSampling called %d times, want once", sampling)
			}
			if res.Image.Bounds() != image.Rect(0, 0, 64, 64) {
				t.Errorf("image bounds %v", res.Image.Bounds())
			}
			n := len(res.Latents)
			for i := range 4 {
				checkRel(t, "e2e_latents_per_step", tensors.FromFlatDataAndDimensions(steps[i*n:(i+1)*n], n),
					tensors.FromFlatDataAndDimensions(wantSteps[i*n:(i+1)*n], n), 1e-3)
			}
			checkRel(t, "e2e_final_latent", tensors.FromFlatDataAndDimensions(res.Latents, 1, 4, 8, 8),
				refTensor(t, "e2e_final_latent"), 1e-3)
			checkRel(t, "e2e_image", tensors.FromFlatDataAndDimensions(res.Decoded, 1, 3, 64, 64),
				refTensor(t, "e2e_image"), 1e-3)
			checkGuidance(t, p, noise, wantSteps)
		})
	}
}

// TestPipelineSeeds checks that a seed reproduces an image exactly, that
// another seed changes it, and that image-to-image and cancellation work.
func TestPipelineSeeds(t *testing.T) {
	p, err := NewPipeline(fixtureBackend(t), tinyModel(t, "diffusers"))
	if err != nil {
		t.Fatal(err)
	}
	gen := func(o GenerateOptions) *Result {
		t.Helper()
		r, err := p.Generate(gocontext.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	base := GenerateOptions{Prompt: "a cat", Negative: "blurry", Steps: 3, Sampler: "Euler a", Seed: 42}
	a, b := gen(base), gen(base)
	if string(a.Image.Pix) != string(b.Image.Pix) {
		t.Error("same seed gave different images")
	}
	other := base
	other.Seed = 43
	if c := gen(other); string(c.Image.Pix) == string(a.Image.Pix) {
		t.Error("seeds 42 and 43 gave the same image")
	}

	skip := base
	skip.ClipSkip = 2
	if c := gen(skip); string(c.Image.Pix) == string(a.Image.Pix) {
		t.Error("clip skip 2 gave the same image as the full text encoder")
	}

	img := base
	img.InitImage = a.Image
	img.Strength = 0.5
	img.Sampler = "dpmpp_2m"
	img.Steps = 4
	var ran int
	img.OnStep = func(step, total int, _ []float32) { ran = total }
	r := gen(img)
	if ran != 2 {
		t.Errorf("img2img at strength 0.5 of 4 steps ran %d steps, want 2", ran)
	}
	if r2 := gen(img); string(r2.Image.Pix) != string(r.Image.Pix) {
		t.Error("img2img with the same seed gave different images")
	}

	// Sizes that are multiples of 8 but not of 64 give odd latent sizes
	// inside the UNet.
	odd := base
	odd.Width, odd.Height = 72, 40
	if r := gen(odd); r.Image.Bounds() != image.Rect(0, 0, 72, 40) {
		t.Errorf("72x40 image has bounds %v", r.Image.Bounds())
	}

	ctx, cancel := gocontext.WithCancel(gocontext.Background())
	cancelled := base
	cancelled.OnStep = func(step, total int, _ []float32) { cancel() }
	if _, err := p.Generate(ctx, cancelled); !errors.Is(err, gocontext.Canceled) {
		t.Errorf("cancelled generation returned %v", err)
	}
	for _, bad := range []GenerateOptions{
		{Prompt: "x", Width: 100},
		{Prompt: "x", Sampler: "plms"},
		{Prompt: "x", Steps: -1},
		{Prompt: "x", ClipSkip: 3},
		{Prompt: "x", InitImage: image.NewNRGBA(image.Rect(0, 0, 0, 0))},
		{Prompt: "x <y>", Identifiers: []Identifier{{Token: "<y>", Vectors: [][]float32{{1, 2}}}}},
	} {
		if _, err := p.Generate(gocontext.Background(), bad); err == nil {
			t.Errorf("Generate(%+v) succeeded", bad)
		}
	}
}

// TestPipelineIdentifiers checks the identifier hook of the pipeline: a
// token whose vector is the embedding of "cat" draws what "cat" draws, as a
// single vector (textual inversion) and as 16 equal per-layer vectors (P+).
func TestPipelineIdentifiers(t *testing.T) {
	m := tinyModel(t, "diffusers")
	p, err := NewPipeline(fixtureBackend(t), m)
	if err != nil {
		t.Fatal(err)
	}
	catID, ok := m.Tokenizer.TokenID("cat</w>")
	if !ok {
		t.Fatal("no token cat</w>")
	}
	table := m.Ctx.InspectVariable("/text_encoder/text_model/embeddings/token_embedding", "weight")
	if table == nil {
		t.Fatal("no token embedding variable")
	}
	d := m.Text.HiddenSize
	cat := tensors.MustCopyFlatData[float32](table.MustValue())[catID*d : (catID+1)*d]
	base := GenerateOptions{Prompt: "a photo of a cat on a sofa", Steps: 2, Seed: 5, Sampler: "euler"}
	want, err := p.Generate(gocontext.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	perLayer := make([][]float32, m.UNet.NumCrossAttentionLayers())
	for i := range perLayer {
		perLayer[i] = cat
	}
	for _, c := range []struct {
		name    string
		vectors [][]float32
	}{{"textual inversion", [][]float32{cat}}, {"per layer", perLayer}} {
		t.Run(c.name, func(t *testing.T) {
			o := base
			o.Prompt = "a photo of a <kitty> on a sofa"
			o.Identifiers = []Identifier{{Token: "<kitty>", Vectors: c.vectors}}
			got, err := p.Generate(gocontext.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, "image", tensors.FromFlatDataAndDimensions(got.Decoded, len(got.Decoded)),
				tensors.FromFlatDataAndDimensions(want.Decoded, len(want.Decoded)), 1e-5)
			o.Identifiers[0].Vectors = [][]float32{make([]float32, d)}
			other, err := p.Generate(gocontext.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if e := relErr(t, "zero vector", tensors.FromFlatDataAndDimensions(other.Decoded, len(other.Decoded)),
				tensors.FromFlatDataAndDimensions(want.Decoded, len(want.Decoded))); e < 1e-3 {
				t.Errorf("a zero identifier vector draws the same as cat (relative difference %.2g)", e)
			}
		})
	}
	// Identifiers are added to a clone of the model's tokenizer, never to it.
	if added := m.Tokenizer.AddedTokens(); len(added) != 0 {
		t.Errorf("the model's tokenizer gained %v", added)
	}
}

// checkGuidance checks the pieces of the end-to-end run one by one: the
// token ids, the text embeddings [negative, prompt] and the guided noise
// prediction of each step, computed from the reference latents.
func checkGuidance(t *testing.T, p *Pipeline, noise, steps []float32) {
	for _, c := range []struct{ text, entry string }{{e2ePrompt, "e2e_prompt_ids"}, {"", "e2e_negative_ids"}} {
		ids, err := p.Model.Tokenizer.EncodePadded(c.text, 77)
		if err != nil {
			t.Fatal(err)
		}
		want := tensors.MustCopyFlatData[float32](refTensor(t, c.entry))
		for i := range want {
			if float32(ids[i]) != want[i] {
				t.Fatalf("%s: ids %v, want %v", c.entry, ids, want)
			}
		}
	}
	cond, uncond, err := p.encodePrompts(e2ePrompt, "", nil, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	states := pairStates(uncond, cond)
	checkRel(t, "e2e_text_embeddings", states[0].(*tensors.Tensor), refTensor(t, "e2e_text_embeddings"), 1e-4)
	want := tensors.MustCopyFlatData[float32](refTensor(t, "e2e_guided_noise_preds"))
	n := len(noise)
	for i, step := range []float32{751, 501, 251, 1} {
		x := noise
		if i > 0 {
			x = steps[(i-1)*n : i*n]
		}
		args := append([]any{tensors.FromFlatDataAndDimensions(x, 1, 4, 8, 8),
			tensors.FromFlatDataAndDimensions([]float32{step}, 1), tensors.FromScalar(float32(7.5))}, states...)
		out, err := p.unetExec.Exec(args...)
		if err != nil {
			t.Fatal(err)
		}
		checkRel(t, "e2e_guided_noise_preds", out[0],
			tensors.FromFlatDataAndDimensions(want[i*n:(i+1)*n], 1, 4, 8, 8), 1e-4)
	}
}

// TestPipelineNeedsTokenizerAndSchedule refuses a model built by hand
// without what Load and NewRandom derive.
func TestPipelineNeedsTokenizerAndSchedule(t *testing.T) {
	for _, c := range []struct {
		name  string
		strip func(*Model)
	}{{"no tokenizer", func(m *Model) { m.Tokenizer = nil }}, {"no scheduler", func(m *Model) { m.Scheduler = scheduler.Config{} }}} {
		m := *tinyModel(t, "diffusers")
		c.strip(&m)
		if _, err := NewPipeline(fixtureBackend(t), &m); err == nil || !strings.Contains(err.Error(), "tokenizer or scheduler") {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
