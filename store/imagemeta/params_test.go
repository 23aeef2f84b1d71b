package imagemeta

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Texts as AUTOMATIC1111 writes them (modules/processing.py create_infotext),
// from several releases.
var a1111Samples = []struct {
	name string
	text string
	want Settings
}{
	{
		name: "v1.6 txt2img",
		text: "masterpiece, a woman doing a handstand on a beach, (sunset:1.2)\n" +
			"Negative prompt: lowres, bad anatomy, text\n" +
			"Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 3837193125, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.6.0",
		want: Settings{
			Prompt: "masterpiece, a woman doing a handstand on a beach, (sunset:1.2)", Negative: "lowres, bad anatomy, text",
			Steps: 20, Sampler: "DPM++ 2M Karras", CFG: 7, Seed: 3837193125, Width: 512, Height: 768,
			ModelHash: "6ce0161689", Model: "v1-5-pruned-emaonly", Extra: map[string]string{"Version": "v1.6.0"},
		},
	},
	{
		name: "img2img with TI hashes and quoted lora list, multi-line prompt",
		text: "a photo of a bear <A>\nstanding in snow\n" +
			"Negative prompt: blurry,\nwatermark\n" +
			`Steps: 30, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: cc6cb27103, Model: v1-5, Denoising strength: 0.75, TI hashes: "A: 1b3c5e7a9d, handstand: 0a1b2c3d4e", Lora hashes: "detail: 62ad0a6ba3, light: 33a1", Version: v1.10.1`,
		want: Settings{
			Prompt: "a photo of a bear <A>\nstanding in snow", Negative: "blurry,\nwatermark",
			Steps: 30, Sampler: "Euler a", CFG: 7.5, Seed: 42, Width: 512, Height: 512,
			ModelHash: "cc6cb27103", Model: "v1-5", Strength: 0.75,
			Identifiers:  []string{"A:1b3c5e7a9d", "handstand:0a1b2c3d4e"},
			ScheduleType: "Automatic", LoraHashes: "detail: 62ad0a6ba3, light: 33a1",
			Extra: map[string]string{"Version": "v1.10.1"},
		},
	},
	{
		name: "v1.10 with VAE and schedule type",
		text: "a cat <lora:add_detail:0.8>\n" +
			`Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, VAE hash: 735e4c3a44, VAE: vae-ft-mse-840000-ema-pruned.safetensors, Lora hashes: "add_detail: 7c6bad76eb54", Version: v1.10.1`,
		want: Settings{
			Prompt: "a cat <lora:add_detail:0.8>", Steps: 20, Sampler: "DPM++ 2M", ScheduleType: "Karras", CFG: 7, Seed: 1,
			Width: 512, Height: 512, ModelHash: "6ce0161689", Model: "v1-5-pruned-emaonly",
			VAEHash: "735e4c3a44", VAE: "vae-ft-mse-840000-ema-pruned.safetensors", LoraHashes: "add_detail: 7c6bad76eb54",
			Extra: map[string]string{"Version": "v1.10.1"},
		},
	},
	{
		name: "old release without negative prompt, CRLF",
		text: "a cat sitting\r\nSteps: 50, Sampler: k_lms, CFG scale: 7.0, Seed: 1, Size: 256x256\r\n",
		want: Settings{Prompt: "a cat sitting", Steps: 50, Sampler: "k_lms", CFG: 7, Seed: 1, Width: 256, Height: 256},
	},
	{
		name: "prompt only",
		text: "just a prompt, no settings: none",
		want: Settings{Prompt: "just a prompt, no settings: none"},
	},
}

func TestParseParametersA1111(t *testing.T) {
	for _, tc := range a1111Samples {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseParameters(tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

func TestParametersRoundTrip(t *testing.T) {
	cases := []Settings{
		{Prompt: "a person <kata-cheer> on a red background", Negative: "blurry", Steps: 25, Sampler: "DDIM",
			CFG: 7.5, Seed: -1, Width: 512, Height: 512, Model: "Kata World", ModelHash: "abcdef0123",
			Identifiers: []string{"cheer:0123456789ab", "squat.safetensors"}, Strength: 0.6,
			Extra: map[string]string{"Eta": "0", "Note": "a, b: c\nd", "Quote": `"x"`}},
		{Prompt: "ünïcødé 日本語 prompt", CFG: 1, Seed: 9223372036854775807},
		{Prompt: "two\nlines", Negative: "neg\nalso two", Steps: 1, CFG: 0.5},
		{Prompt: "", Steps: 4, CFG: 3, Seed: 7},
	}
	for _, s := range cases {
		text := s.Parameters()
		got, err := ParseParameters(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip of %q:\ngot  %#v\nwant %#v", text, got, s)
		}
	}
}

func TestParametersFormat(t *testing.T) {
	s := Settings{Prompt: "p", Negative: "n", Steps: 20, Sampler: "Euler a", CFG: 7.5, Seed: 1, Width: 512, Height: 512,
		ModelHash: "h", Model: "m", Strength: 0.75}
	want := "p\nNegative prompt: n\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 512x512, Model hash: h, Model: m, Denoising strength: 0.75"
	if got := s.Parameters(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// Identifiers with a hash are A1111's quoted "TI hashes"; one without
	// stays under Identifiers.
	s = Settings{Prompt: "a <handstand>", Steps: 2, CFG: 7, Seed: 1, Identifiers: []string{"handstand:0123456789ab", "easyneg:fedcba987654", "x.safetensors"}}
	want = `a <handstand>` + "\n" + `Steps: 2, CFG scale: 7, Seed: 1, TI hashes: "handstand: 0123456789ab, easyneg: fedcba987654", Identifiers: x.safetensors`
	if got := s.Parameters(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// TestParametersFormatA1111Fields checks where the schedule type, VAE and
// LoRA hashes go, as AUTOMATIC1111 1.10 orders them, and that the LoRA
// hashes are quoted even for one LoRA.
func TestParametersFormatA1111Fields(t *testing.T) {
	s := Settings{Prompt: "p <lora:x:0.8>", Steps: 20, Sampler: "DPM++ 2M", ScheduleType: "Karras", CFG: 7, Seed: 1,
		Model: "m", ModelHash: "h", VAE: "vae-ft-mse.safetensors", VAEHash: "735e4c3a44", LoraHashes: "x: 0123456789ab"}
	want := "p <lora:x:0.8>\nSteps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1, Model hash: h, Model: m, " +
		`VAE hash: 735e4c3a44, VAE: vae-ft-mse.safetensors, Lora hashes: "x: 0123456789ab"`
	got := s.Parameters()
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	back, err := ParseParameters(got)
	if err != nil || !reflect.DeepEqual(back, s) {
		t.Errorf("read back %#v, %v", back, err)
	}
}

func TestParseParametersErrors(t *testing.T) {
	for _, text := range []string{
		"",
		"  \n ",
		"p\nSteps: many, CFG scale: 7, Seed: 1",
		"p\nSteps: 2, CFG scale: 7, Seed: 1, Size: 512",
		"p\nSteps: 2, CFG scale: x, Seed: 1",
		"p\nSteps: 2, CFG scale: 7, Seed: 99999999999999999999",
	} {
		if _, err := ParseParameters(text); err == nil {
			t.Errorf("%q: no error", text)
		} else if text != "" && strings.TrimSpace(text) != "" && errors.Is(err, ErrNoSettings) {
			t.Errorf("%q: %v should name the bad value", text, err)
		}
	}
}

func FuzzParseParameters(f *testing.F) {
	for _, s := range a1111Samples {
		f.Add(s.text)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseParameters(text)
		if err != nil {
			return
		}
		// Whatever parses must render to text that reads back the same prompts
		// and numbers ("use these settings again" on a foreign file).
		back, err := ParseParameters(s.Parameters())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", s.Parameters(), err)
		}
		if back.Prompt != s.Prompt || back.Negative != s.Negative || back.Steps != s.Steps || back.Seed != s.Seed {
			t.Fatalf("settings changed:\n%#v\n%#v", s, back)
		}
	})
}
