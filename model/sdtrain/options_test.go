package sdtrain

import (
	"math"
	"testing"

	"kata/model/sd"
)

func TestLearningRate(t *testing.T) {
	o := Options{LR: 1e-3, Warmup: 10, Steps: 110, Cosine: true}
	constant := o
	constant.Cosine = false
	tests := []struct {
		name string
		o    Options
		step int
		want float64
	}{
		{"first warmup step", o, 0, 1e-4},
		{"end of warmup", o, 9, 1e-3},
		{"cosine start", o, 10, 1e-3},
		{"cosine half way", o, 60, 5e-4},
		{"cosine end", o, 110, 0},
		{"constant after warmup", constant, 100, 1e-3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.LearningRate(tc.step); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("LearningRate(%d) = %g, want %g", tc.step, got, tc.want)
			}
		})
	}
}

func TestEMADecayWarmsUp(t *testing.T) {
	for _, tc := range []struct {
		t    int
		want float64
	}{{1, 2.0 / 11}, {90, 0.91}, {100000, 0.999}} {
		if got := emaDecay(0.999, tc.t); math.Abs(got-tc.want) > 1e-12 {
			t.Fatalf("emaDecay(0.999, %d) = %g, want %g", tc.t, got, tc.want)
		}
	}
}

func TestOptionsRejectBadInput(t *testing.T) {
	ok := Options{Stage: StageVAE, Steps: 1, CheckpointDir: "x"}
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"unknown stage", func(o *Options) { o.Stage = "gan" }},
		{"no steps", func(o *Options) { o.Steps = 0 }},
		{"no checkpoint folder", func(o *Options) { o.CheckpointDir = "" }},
		{"negative batch", func(o *Options) { o.Batch = -2 }},
		{"negative learning rate", func(o *Options) { o.LR = -1 }},
		{"EMA decay 1", func(o *Options) { o.EMADecay = 1 }},
		{"caption dropout above 1", func(o *Options) { o.CaptionDrop = 2 }},
		{"unknown weighting", func(o *Options) { o.Stage, o.Weighting = StageUNet, "snr" }},
		{"weighting on the vae stage", func(o *Options) { o.Weighting = WeightingP2 }},
		{"initial checkpoint on the vae stage", func(o *Options) { o.InitFrom = "unet.safetensors" }},
	}
	if _, err := ok.withDefaults(); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			if _, err := o.withDefaults(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// TestConfigJSONRoundTrips writes each config as diffusers JSON and reads it
// back with model/sd's parsers.
func TestConfigJSONRoundTrips(t *testing.T) {
	a := tinyArch()
	a.UNet.AttentionHeads = []int{1, 2, 2, 4} // per-block heads become a list
	meta, err := archMetadata(a)
	if err != nil {
		t.Fatal(err)
	}
	text, err := sd.ParseTextConfig([]byte(meta["text_config"]))
	if err != nil || *text != *a.Text {
		t.Fatalf("text config %+v, %v; want %+v", text, err, a.Text)
	}
	unet, err := sd.ParseUNetConfig([]byte(meta["unet_config"]))
	if err != nil {
		t.Fatal(err)
	}
	uj, _ := UNetConfigJSON(unet)
	if string(uj) != meta["unet_config"] {
		t.Fatalf("unet config does not round-trip:\n%s\n%s", uj, meta["unet_config"])
	}
	vae, err := sd.ParseVAEConfig([]byte(meta["vae_config"]))
	if err != nil {
		t.Fatal(err)
	}
	if vj, _ := VAEConfigJSON(vae, a.ImageSize()); string(vj) != meta["vae_config"] {
		t.Fatalf("vae config does not round-trip")
	}
}

func TestLearningRateRestarts(t *testing.T) {
	o := Options{Steps: 50, Warmup: 10, LR: 1, Cosine: true, Restarts: []int{30}}
	plain := Options{Steps: 30, Warmup: 10, LR: 1, Cosine: true}
	for step := range 30 {
		if o.LearningRate(step) != plain.LearningRate(step) {
			t.Fatalf("step %d: %g with a restart at 30, %g in the 30-step run", step, o.LearningRate(step), plain.LearningRate(step))
		}
	}
	if o.LearningRate(30) != 1 || o.LearningRate(40) > 0.51 || o.LearningRate(40) < 0.49 || o.LearningRate(49) > 0.01 {
		t.Fatalf("second cycle: %g at 30, %g at 40, %g at 49", o.LearningRate(30), o.LearningRate(40), o.LearningRate(49))
	}
	for _, r := range [][]int{{5}, {50}, {30, 20}, {30, 30}} {
		bad := o
		bad.Stage, bad.CheckpointDir, bad.Restarts = StageVAE, "x", r
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("restarts %v accepted", r)
		}
	}
}

// TestTimestepWeight checks P2's weight 1/(1+SNR), SNR = a/(1-a) (Choi et
// al. 2022, eq. 8 with k=1, gamma=1), and the uniform weighting's 1.
func TestTimestepWeight(t *testing.T) {
	for _, tc := range []struct {
		w        string
		ac, want float64
	}{
		{WeightingUniform, 0.5, 1}, {WeightingUniform, 0.99, 1},
		{WeightingP2, 0.5, 0.5}, {WeightingP2, 0.9, 0.1}, {WeightingP2, 0.2, 0.8}, {WeightingP2, 0.01, 0.99},
	} {
		if got := TimestepWeight(tc.w, tc.ac); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%q at alpha-bar %g: %g, want %g", tc.w, tc.ac, got, tc.want)
		}
	}
}
