package imagemeta

import (
	"bytes"
	"errors"
	"image/png"
	"reflect"
	"strings"
	"testing"
	"time"
)

// comfyDefault is ComfyUI's default text-to-image graph in the API format
// its SaveImage node writes to the "prompt" chunk (node ids and classes as
// in ComfyUI's default workflow), with a LoRA loader and Clip skip 2 added
// the way ComfyUI users wire them.
const comfyDefault = `{
 "3": {"class_type": "KSampler", "inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "dpmpp_2m",
   "scheduler": "karras", "denoise": 1, "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
 "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "SD1.5\\v1-5-pruned-emaonly.safetensors"}},
 "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
 "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "beautiful scenery, a panda doing a handstand", "clip": ["11", 0]}},
 "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["11", 0]}},
 "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
 "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
 "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "detail.safetensors", "strength_model": 1, "strength_clip": 1, "model": ["4", 0], "clip": ["4", 1]}},
 "11": {"class_type": "CLIPSetLastLayer", "inputs": {"stop_at_clip_layer": -2, "clip": ["10", 1]}},
 "12": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "4x-UltraSharp.pth"}}
}`

// invokeMeta is an InvokeAI 4.x invokeai_metadata object (its keys as
// InvokeAI's core metadata node writes them).
const invokeMeta = `{"generation_mode": "sd-1_img2img", "positive_prompt": "a robot saluting", "negative_prompt": "blurry",
 "width": 512, "height": 512, "seed": 4242, "rand_device": "cpu", "cfg_scale": 7.5, "cfg_rescale_multiplier": 0,
 "steps": 30, "scheduler": "dpmpp_2m_k", "clip_skip": 1, "strength": 0.6,
 "model": {"key": "3a1b", "hash": "blake3:ab12", "name": "Deliberate v2", "base": "sd-1", "type": "main"},
 "loras": [{"model": {"name": "detail"}, "weight": 0.8}], "vae": null, "app_version": "4.2.4", "positive_style_prompt": ""}`

func TestParseComfyUI(t *testing.T) {
	s, err := ParseComfyUI(comfyDefault)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Prompt: "beautiful scenery, a panda doing a handstand", Negative: "text, watermark", Steps: 20,
		Sampler: "dpmpp_2m_karras", CFG: 8, Seed: 156680208700286, Width: 512, Height: 768, Model: "v1-5-pruned-emaonly",
		Extra: map[string]string{"Clip skip": "2"}, Source: SourceComfyUI,
		Ignored: []string{"ComfyUI node LoraLoader (detail.safetensors)", "ComfyUI node UpscaleModelLoader (4x-UltraSharp.pth)"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
	if _, err := ParseComfyUI(`{"1": {"class_type": "LoadImage", "inputs": {}}}`); !errors.Is(err, ErrNoSettings) {
		t.Errorf("graph without a sampler: %v", err)
	}
	if _, err := ParseComfyUI(`{"3": `); err == nil {
		t.Error("truncated JSON: no error")
	}
}

func TestParseInvokeAI(t *testing.T) {
	s, err := ParseInvokeAI(invokeMeta)
	if err != nil {
		t.Fatal(err)
	}
	want := Settings{Prompt: "a robot saluting", Negative: "blurry", Steps: 30, Sampler: "dpmpp_2m_karras", CFG: 7.5, Seed: 4242,
		Width: 512, Height: 512, Model: "Deliberate v2", Strength: 0.6, Extra: map[string]string{"Clip skip": "2"},
		Source: SourceInvokeAI, Ignored: []string{"the init image (sd-1_img2img)", "InvokeAI cfg_rescale_multiplier", "InvokeAI loras"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got  %+v\nwant %+v", s, want)
	}
}

// TestReadPNGOtherTools reads the chunks as those tools store them in a PNG.
func TestReadPNGOtherTools(t *testing.T) {
	var plain bytes.Buffer
	if err := png.Encode(&plain, testImage(8, 8)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		chunks []TextChunk
		source string
		err    error
	}{
		{"comfyui", []TextChunk{{KeyComfyPrompt, comfyDefault}, {KeyComfyWorkflow, `{"nodes": []}`}}, SourceComfyUI, nil},
		{"invokeai", []TextChunk{{KeyInvokeAI, invokeMeta}}, SourceInvokeAI, nil},
		{"a1111 wins", []TextChunk{{KeyParameters, "p\nSteps: 2, CFG scale: 7, Seed: 1"}, {KeyComfyPrompt, comfyDefault}}, "", nil},
		{"empty workflow", []TextChunk{{KeyComfyWorkflow, `{"nodes": []}`}}, "", ErrNoSettings},
	} {
		var buf bytes.Buffer
		if err := InsertPNGText(&buf, plain.Bytes(), c.chunks); err != nil {
			t.Fatal(err)
		}
		s, err := ReadPNG(&buf)
		if c.err != nil {
			if !errors.Is(err, c.err) || !strings.Contains(strings.ToLower(err.Error()), "comfyui") {
				t.Errorf("%s: err %v, want %v", c.name, err, c.err)
			}
			continue
		}
		if err != nil || s.Source != c.source || s.Prompt == "" {
			t.Errorf("%s: source %q prompt %q, %v", c.name, s.Source, s.Prompt, err)
		}
	}
}

// TestParseComfyUIModelCycle: a model input that loops back (found by
// FuzzParseComfyWorkflow: it hung ParseComfyUI) ends the model chain.
func TestParseComfyUIModelCycle(t *testing.T) {
	for _, graph := range []string{
		`{"3": {"class_type": "KSampler", "inputs": {"seed": 1, "model": ["3", 0]}}}`,
		`{"3": {"class_type": "KSampler", "inputs": {"seed": 1, "model": ["4", 0]}},
		  "4": {"class_type": "LoraLoader", "inputs": {"model": ["5", 0]}}, "5": {"class_type": "LoraLoader", "inputs": {"model": ["4", 0]}}}`,
	} {
		done := make(chan error, 1)
		go func() { _, err := ParseComfyUI(graph); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", graph, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ParseComfyUI does not return on %s", graph)
		}
	}
}
