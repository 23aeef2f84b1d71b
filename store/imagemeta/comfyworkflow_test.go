package imagemeta

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"reflect"
	"strings"
	"testing"
)

// comfyWorkflowWant is what testdata/comfy-workflow.json holds: the graph of
// comfyDefault as ComfyUI's editor saves it, its clip wired through a Reroute,
// its model through a bypassed FreeU_V2, its seed from a PrimitiveNode, and a
// muted LoRA loader beside it.
var comfyWorkflowWant = Settings{Prompt: "beautiful scenery, a panda doing a handstand", Negative: "text, watermark", Steps: 20,
	Sampler: "dpmpp_2m_karras", CFG: 8, Seed: 156680208700286, Width: 512, Height: 768, Model: "v1-5-pruned-emaonly",
	Extra: map[string]string{"Clip skip": "2"}, Source: SourceComfyUI,
	Ignored: []string{"ComfyUI node LoraLoader (detail.safetensors)", "ComfyUI node UpscaleModelLoader (4x-UltraSharp.pth)"}}

// comfyObjectLinks is a minimal editor graph with the newer object form of
// links and without the control_after_generate value.
const comfyObjectLinks = `{"nodes": [
 {"id": 1, "type": "KSampler", "inputs": [{"name": "positive", "type": "CONDITIONING", "link": 7}, {"name": "latent_image", "type": "LATENT", "link": 8}],
  "widgets_values": [42, 25, 6.5, "euler_ancestral", "normal", 1]},
 {"id": 2, "type": "CLIPTextEncode", "widgets_values": ["a cat jumping"]},
 {"id": 3, "type": "EmptyLatentImage", "widgets_values": [640, 512, 1]}],
 "links": [{"id": 7, "origin_id": 2, "origin_slot": 0, "target_id": 1, "target_slot": 0, "type": "CONDITIONING"},
  {"id": 8, "origin_id": 3, "origin_slot": 0, "target_id": 1, "target_slot": 1, "type": "LATENT"}]}`

func TestParseComfyWorkflow(t *testing.T) {
	fixture, err := os.ReadFile("testdata/comfy-workflow.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		text string
		want Settings
		err  error // wrapped by the error, nil for none; errAny for any error
	}{
		{"editor graph", string(fixture), comfyWorkflowWant, nil},
		{"object links", comfyObjectLinks, Settings{Prompt: "a cat jumping", Steps: 25, CFG: 6.5, Seed: 42,
			Sampler: "euler_ancestral", Width: 640, Height: 512, Source: SourceComfyUI}, nil},
		{"no sampler", `{"nodes": [{"id": 1, "type": "LoadImage", "widgets_values": ["x.png", "image"]}], "links": []}`,
			Settings{}, ErrNoSettings},
		{"muted sampler", `{"nodes": [{"id": 1, "type": "KSampler", "mode": 2, "widgets_values": [1, 2, 3]}]}`,
			Settings{}, ErrNoSettings},
		{"reroute cycle", `{"nodes": [{"id": 1, "type": "KSampler", "inputs": [{"name": "positive", "link": 1}], "widgets_values": [1]},
			{"id": 2, "type": "Reroute", "inputs": [{"name": "", "link": 2}]}, {"id": 3, "type": "Reroute", "inputs": [{"name": "", "link": 3}]}],
			"links": [[1, 2, 0, 1, 0, "CONDITIONING"], [2, 3, 0, 2, 0, "*"], [3, 2, 0, 3, 0, "*"]]}`,
			Settings{Seed: 1, Source: SourceComfyUI}, nil},
		{"not json", `{"nodes": [`, Settings{}, errAny},
		{"bad link", `{"nodes": [], "links": [[1]]}`, Settings{}, errAny},
		{"bad node id", `{"nodes": [{"id": {}, "type": "KSampler"}]}`, Settings{}, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseComfyWorkflow(tc.text)
			switch {
			case tc.err == errAny:
				if err == nil {
					t.Errorf("no error, settings %+v", s)
				}
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Errorf("err %v, want %v", err, tc.err)
				}
			case err != nil:
				t.Fatal(err)
			case !reflect.DeepEqual(s, tc.want):
				t.Errorf("got  %+v\nwant %+v", s, tc.want)
			}
		})
	}
}

// errAny marks a test case that wants some error.
var errAny = errors.New("any error")

// TestReadPNGComfyWorkflow: a PNG with only ComfyUI's "workflow" chunk is
// read from it; with "prompt" beside it, "prompt" is read.
func TestReadPNGComfyWorkflow(t *testing.T) {
	fixture, err := os.ReadFile("testdata/comfy-workflow.json")
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := png.Encode(&plain, testImage(8, 8)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		chunks []TextChunk
		prompt string
	}{
		{"workflow only", []TextChunk{{KeyComfyWorkflow, string(fixture)}}, comfyWorkflowWant.Prompt},
		{"prompt wins", []TextChunk{{KeyComfyWorkflow, comfyObjectLinks}, {KeyComfyPrompt, comfyDefault}}, comfyWorkflowWant.Prompt},
		{"object links", []TextChunk{{KeyComfyWorkflow, comfyObjectLinks}}, "a cat jumping"},
	} {
		var buf bytes.Buffer
		if err := InsertPNGText(&buf, plain.Bytes(), tc.chunks); err != nil {
			t.Fatal(err)
		}
		s, err := ReadPNG(&buf)
		if err != nil || s.Prompt != tc.prompt || s.Source != SourceComfyUI {
			t.Errorf("%s: prompt %q source %q, %v; want %q", tc.name, s.Prompt, s.Source, err, tc.prompt)
		}
	}
}

func FuzzParseComfyWorkflow(f *testing.F) {
	fixture, err := os.ReadFile("testdata/comfy-workflow.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(fixture))
	f.Add(comfyObjectLinks)
	f.Add(`{"nodes": [{"id": "a", "type": "Reroute", "inputs": [{"link": 1}]}], "links": [[1, "a", 0, "a", 0, "*"]]}`)
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseComfyWorkflow(text)
		if err == nil && s.Source != SourceComfyUI {
			t.Errorf("settings without their source: %+v", s)
		}
		if err != nil && !strings.Contains(err.Error(), "comfyui workflow") {
			t.Errorf("error does not name the graph: %v", err)
		}
	})
}
