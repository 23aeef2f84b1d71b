package sd

import (
	"os"
	"path/filepath"
	"testing"

	"kata/model/sd/sdtest"
)

// FuzzModelConfigs feeds arbitrary config.json bytes to the three component
// parsers and, when one parses, the range check Load runs before building
// anything: neither may panic, and a config both accept must stay within
// the bounds that keep allocation sane.
func FuzzModelConfigs(f *testing.F) {
	for _, sub := range []string{"unet", "text_encoder", "vae"} {
		if data, err := os.ReadFile(filepath.Join(sdtest.TinyDir(), sub, "config.json")); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"sample_size": 100000000, "block_out_channels": [32], "attention_head_dim": 8}`))
	f.Add([]byte(`{"attention_head_dim": [1, 2, 3], "transformer_layers_per_block": [1, 2]}`))
	f.Add([]byte(`{"norm_eps": 1e999}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := Model{Text: SD15TextConfig(), UNet: SD15UNetConfig(), VAE: SD15VAEConfig()}
		if c, err := ParseUNetConfig(data); err == nil {
			m := base
			m.UNet = c
			if m.checkRanges() == nil && (c.SampleSize > MaxSampleSize || len(c.BlockOutChannels) > 8) {
				t.Fatalf("unet config accepted beyond bounds: %+v", c)
			}
		}
		if c, err := ParseTextConfig(data); err == nil {
			m := base
			m.Text = c
			m.checkRanges()
		}
		if c, err := ParseVAEConfig(data); err == nil {
			m := base
			m.VAE = c
			m.checkRanges()
		}
	})
}
