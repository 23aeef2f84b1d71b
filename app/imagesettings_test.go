package app

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/store/imagemeta"
)

// comfyPNG writes a PNG carrying a ComfyUI "prompt" graph in the API format
// ComfyUI's SaveImage node stores (node id -> class_type and inputs, links as
// [node id, output]).
func comfyPNG(t *testing.T, path, sampler, scheduler string) {
	t.Helper()
	graph := `{"3": {"class_type": "KSampler", "inputs": {"seed": 7, "steps": 12, "cfg": 6.5, "sampler_name": "` + sampler +
		`", "scheduler": "` + scheduler + `", "denoise": 1, "model": ["10", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}},
	 "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
	 "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
	 "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a panda <handstand>", "clip": ["4", 1]}},
	 "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
	 "10": {"class_type": "LoraLoader", "inputs": {"lora_name": "detail.safetensors", "model": ["4", 0], "clip": ["4", 1]}}}`
	var plain, out bytes.Buffer
	if err := png.Encode(&plain, image.NewNRGBA(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	if err := imagemeta.InsertPNGText(&out, plain.Bytes(), []imagemeta.TextChunk{{Key: imagemeta.KeyComfyPrompt, Text: graph}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadImageSettingsOtherTools(t *testing.T) {
	dir := t.TempDir()
	known := filepath.Join(dir, "comfy.png")
	comfyPNG(t, known, "dpmpp_2m", "karras")
	s, err := ReadImageSettings(known)
	if err != nil {
		t.Fatal(err)
	}
	if s.Source != "ComfyUI" || s.Prompt != "a panda <handstand>" || s.Negative != "blurry" || s.Sampler != "dpmpp_2m_karras" || s.SamplerLabel != "DPM++ 2M" || s.ScheduleType != "Karras" ||
		s.Seed != 7 || !s.HasSeed || s.Steps != 12 || s.CFG != 6.5 || s.Model != "v1-5-pruned-emaonly" ||
		len(s.Ignored) != 1 || !strings.Contains(s.Ignored[0], "LoraLoader") {
		t.Errorf("settings %+v", s)
	}
	unknown := filepath.Join(dir, "lcm.png")
	comfyPNG(t, unknown, "lcm", "normal")
	if s, err := ReadImageSettings(unknown); err != nil || s.Sampler != "" || !strings.Contains(strings.Join(s.Ignored, "; "), `sampler "lcm"`) {
		t.Errorf("unknown sampler: %+v, %v", s, err)
	}
	code, stdout, stderr := runMain("library", "settings", known)
	if code != 0 || !strings.Contains(stdout, "a panda <handstand>") || !strings.Contains(stdout, "Sampler: DPM++ 2M Karras") ||
		!strings.Contains(stderr, "read from ComfyUI") || !strings.Contains(stderr, "ignored: ComfyUI node LoraLoader") {
		t.Errorf("library settings: %d\n%s\n%s", code, stdout, stderr)
	}
}

// TestReadImageSettingsScheduleType checks that AUTOMATIC1111 1.9+'s
// separate "Schedule type" reaches the sampler, as the joined name does.
func TestReadImageSettingsScheduleType(t *testing.T) {
	for _, tc := range []struct{ params, sampler, schedule string }{
		{"Sampler: DPM++ 2M Karras", "dpmpp_2m_karras", "Karras"},
		{"Sampler: DPM++ 2M, Schedule type: Karras", "dpmpp_2m_karras", "Karras"},
		{"Sampler: Euler, Schedule type: Karras", "euler_karras", "Karras"},
	} {
		var plain, out bytes.Buffer
		if err := png.Encode(&plain, image.NewNRGBA(image.Rect(0, 0, 8, 8))); err != nil {
			t.Fatal(err)
		}
		text := "a panda\nSteps: 20, " + tc.params + ", CFG scale: 7, Seed: 1, Size: 8x8"
		if err := imagemeta.InsertPNGText(&out, plain.Bytes(), []imagemeta.TextChunk{{Key: imagemeta.KeyParameters, Text: text}}); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "a.png")
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := ReadImageSettings(path)
		if err != nil || s.Sampler != tc.sampler || s.ScheduleType != tc.schedule {
			t.Errorf("%s: sampler %q, schedule %q (%v), want %q, %q", tc.params, s.Sampler, s.ScheduleType, err, tc.sampler, tc.schedule)
		}
	}
}
