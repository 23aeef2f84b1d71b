package sd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/sd/sdtest"
)

func TestParseConfigsRejects(t *testing.T) {
	for _, c := range []struct {
		name  string
		parse func([]byte) error
		json  string
	}{
		{"unet not json", unetParse, `{`},
		{"unet heads mismatch", unetParse, `{"attention_head_dim": [8, 8]}`},
		{"unet huge", unetParse, `{"layers_per_block": 100000}`},
		{"unet groups", unetParse, `{"norm_num_groups": 7}`},
		{"unet class embeddings", unetParse, `{"class_embed_type": "timestep"}`},
		{"unet mid block", unetParse, `{"mid_block_type": "UNetMidBlock2DSimpleCrossAttn"}`},
		{"unet block type", unetParse, `{"down_block_types": ["A", "B", "C", "D"]}`},
		{"vae channels", vaeParse, `{"block_out_channels": [128, -1, 512, 512]}`},
		{"vae huge", vaeParse, `{"block_out_channels": [128, 256, 512, 512, 1, 1, 1, 1, 1, 1], "down_block_types": []}`},
		{"text heads", textParse, `{"num_attention_heads": 5}`},
		{"text act", textParse, `{"hidden_act": "relu"}`},
		{"text huge", textParse, `{"vocab_size": 1000000000}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.parse([]byte(c.json)); err == nil {
				t.Errorf("%s accepted", c.json)
			}
		})
	}
	// The SD 1.x defaults and the tiny fixture's configs parse.
	for _, data := range []string{"{}", readFile(t, "unet/config.json")} {
		if err := unetParse([]byte(data)); err != nil {
			t.Error(err)
		}
	}
	cfg, err := ParseUNetConfig([]byte(readFile(t, "unet/config.json")))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NumCrossAttentionLayers() != 16 || cfg.AttentionHeads[0] != 8 || cfg.NormNumGroups != 8 {
		t.Errorf("tiny unet config %+v", cfg)
	}
}

func unetParse(b []byte) error { _, err := ParseUNetConfig(b); return err }
func vaeParse(b []byte) error  { _, err := ParseVAEConfig(b); return err }
func textParse(b []byte) error { _, err := ParseTextConfig(b); return err }

func readFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(sdtest.TinyDir(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestLoadCorrupt checks that damaged files give errors, not panics.
func TestLoadCorrupt(t *testing.T) {
	data, err := os.ReadFile(sdtest.TinySingleFile())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"truncated.safetensors", data[:len(data)/2]},
		{"header-only.safetensors", data[:100]},
		{"empty.safetensors", nil},
		{"model.ckpt", data},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path, nil); err == nil {
			t.Errorf("%s loaded", c.name)
		} else if !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %q does not name the file", c.name, err)
		}
	}
	// A diffusers folder with a broken config.
	folder := filepath.Join(dir, "folder")
	for _, sub := range []string{"unet", "vae", "text_encoder"} {
		if err := os.MkdirAll(filepath.Join(folder, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(folder, sub, "config.json"), []byte(readFile(t, sub+"/config.json")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(folder, "model_index.json"), []byte("{}"), 0o644)
	os.WriteFile(filepath.Join(folder, "vae", "config.json"), []byte(`{"block_out_channels": "wide"}`), 0o644)
	if _, err := Load(folder, nil); err == nil || !strings.Contains(err.Error(), "vae") {
		t.Errorf("broken vae config: %v", err)
	}
	os.WriteFile(filepath.Join(folder, "vae", "config.json"), []byte(readFile(t, "vae/config.json")), 0o644)
	if _, err := Load(folder, nil); err == nil || !strings.Contains(err.Error(), "no weights") {
		t.Errorf("folder without weights: %v", err)
	}
}
