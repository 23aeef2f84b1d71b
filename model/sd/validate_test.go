package sd

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/sd/sdtest"
)

// hostileTiny is a copy of the sd-tiny folder (weights linked, not copied)
// whose component config sub/config.json has key set to value.
func hostileTiny(t *testing.T, sub, key string, value any) string {
	t.Helper()
	dir := t.TempDir()
	src := sdtest.TinyDir()
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		dst := filepath.Join(dir, rel)
		if info.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if rel == filepath.Join(sub, "config.json") {
			var cfg map[string]any
			data, err := os.ReadFile(p)
			if err == nil {
				err = json.Unmarshal(data, &cfg)
			}
			if err != nil {
				return err
			}
			cfg[key] = value
			data, _ = json.Marshal(cfg)
			return os.WriteFile(dst, data, 0o644)
		}
		return os.Symlink(p, dst)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Hostile config fields are refused at load with the field's name, before
// any generation allocates for them.
func TestLoadRefusesHostileConfigs(t *testing.T) {
	for _, tc := range []struct {
		sub, key string
		value    any
		want     string
	}{
		{"unet", "sample_size", 100000000, "sample_size"},
		{"unet", "sample_size", 0, "sample_size"},
		{"unet", "norm_eps", -1, "norm_eps"},
		{"unet", "freq_shift", 1e300, "freq_shift"},
		{"unet", "downsample_padding", 1000, "downsample_padding"},
		{"text_encoder", "layer_norm_eps", 0, "layer_norm_eps"},
		{"vae", "scaling_factor", 1e30, "scaling_factor"},
		{"unet", "block_out_channels", []int{32, 32, 64, 1 << 20}, "channels"},
		{"unet", "layers_per_block", 1 << 30, "sizes"},
	} {
		_, err := Load(hostileTiny(t, tc.sub, tc.key, tc.value), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s=%v: %v", tc.sub, tc.key, tc.value, err)
		}
	}
}

func TestGenerateBounds(t *testing.T) {
	p, err := NewPipeline(fixtureBackend(t), tinyModel(t, "diffusers"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []GenerateOptions{
		{Width: 100000, Height: 64},
		{Width: 64, Height: MaxImageSide + 8},
		{Width: 64, Height: 64, CFG: 1e39},
		{Width: 64, Height: 64, CFG: math.Inf(1)},
		{Width: 64, Height: 64, CFG: MaxCFG + 1},
	} {
		o.Steps = 1
		if _, err := p.Generate(context.Background(), o); err == nil {
			t.Errorf("%dx%d cfg %g: no error", o.Width, o.Height, o.CFG)
		}
	}
}

func TestEstimateMemory(t *testing.T) {
	m := &Model{Text: SD15TextConfig(), UNet: SD15UNetConfig(), VAE: SD15VAEConfig()}
	small := m.EstimateMemory(512, 512, true)
	if small.Activations <= 0 || small.Activations > 4<<30 {
		t.Errorf("SD 1.5 at 512x512: %d bytes", small.Activations)
	}
	if big := m.EstimateMemory(1024, 1024, true); big.Activations < 3*small.Activations {
		t.Errorf("1024x1024 (%d) not about 4x 512x512 (%d)", big.Activations, small.Activations)
	}
	if unguided := m.EstimateMemory(512, 512, false); unguided.Activations > small.Activations {
		t.Errorf("unguided %d > guided %d", unguided.Activations, small.Activations)
	}
	// The issue's --width 100000: far beyond any desktop.
	if huge := m.EstimateMemory(100000, 512, true); huge.Activations < 64<<30 {
		t.Errorf("100000x512 estimated at only %s", gib(huge.Activations))
	}
	tiny := tinyModel(t, "diffusers")
	if w := tiny.EstimateMemory(64, 64, true).Weights; w <= 0 {
		t.Errorf("tiny weights %d", w)
	}
}

func TestCheckMemory(t *testing.T) {
	if _, ok := availableMemory(); !ok {
		t.Skip("available memory cannot be read here")
	}
	m := &Model{Text: SD15TextConfig(), UNet: SD15UNetConfig(), VAE: SD15VAEConfig()}
	err := m.checkMemory(GenerateOptions{Width: MaxImageSide, Height: MaxImageSide, CFG: 7})
	if !errors.Is(err, ErrNotEnoughMemory) || !strings.Contains(err.Error(), "GB available") {
		// 8192x8192 needs about 400 GB by the estimate.
		t.Errorf("8192x8192: %v", err)
	}
	if err := m.checkMemory(GenerateOptions{Width: 64, Height: 64, CFG: 7}); err != nil {
		t.Errorf("64x64: %v", err)
	}
}

func TestNonFiniteLatents(t *testing.T) {
	for _, tc := range []struct {
		x    []float32
		want int
	}{
		{[]float32{0, 1, -2}, -1},
		{[]float32{0, float32(math.NaN())}, 1},
		{[]float32{float32(math.Inf(-1)), 0}, 0},
		{nil, -1},
	} {
		if got := firstNonFinite(tc.x); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.x, got, tc.want)
		}
		err := nonFiniteLatents(tc.x, 3, 7)
		if (err != nil) != (tc.want >= 0) || err != nil && !errors.Is(err, ErrNonFinite) {
			t.Errorf("%v: %v", tc.x, err)
		}
	}
}
