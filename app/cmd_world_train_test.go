package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/sd"
	"kata/model/sdtrain"
)

func TestWorldTrainFlags(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown stage", []string{"--stage", "gan"}, "--stage must be"},
		{"negative steps", []string{"--steps", "-1"}, "must not be negative"},
		{"negative shards", []string{"--shards", "-2"}, "must not be negative"},
		{"stray argument", []string{"extra"}, "unexpected arguments"},
		{"no checkpoint folder", []string{"--ckpt", ""}, "--ckpt must name"},
		{"weighting outside the unet stage", []string{"--weighting", "p2"}, "apply to --stage unet"},
		{"init outside the unet stage", []string{"--stage", "vae", "--init-from", "x"}, "apply to --stage unet"},
		{"bad restart", []string{"--restarts", "10,x"}, "--restarts"},
		{"unknown weighting", []string{"--stage", "unet", "--weighting", "snr"}, "--weighting must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			status := Main(context.Background(), append([]string{"world", "train"}, tc.args...), Env{Stdout: &out, Stderr: &errb})
			if status != 2 || !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("status %d, stderr %q; want 2 and %q", status, errb.String(), tc.stderr)
			}
		})
	}
	a, err := parseWorldTrainArgs(Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseWorldTrainArgs(Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, []string{"--stage", "unet", "--weighting", "p2", "--init-from", "a.safetensors", "--restarts", "none"})
	if err != nil {
		t.Fatal(err)
	}
	if o := u.options(sdtrain.StageUNet, true); o.Weighting != sdtrain.WeightingP2 || o.InitFrom != "a.safetensors" || len(o.Restarts) != 0 {
		t.Fatalf("unet options %q %q", o.Weighting, o.InitFrom)
	}
	for _, tc := range []struct{ flag, want string }{
		{"", sdtrain.WeightingP2}, // the recipe's
		{"uniform", sdtrain.WeightingUniform},
		{"p2", sdtrain.WeightingP2},
	} {
		args := []string{"--stage", "unet"}
		if tc.flag != "" {
			args = append(args, "--weighting", tc.flag)
		}
		w, err := parseWorldTrainArgs(Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, args)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.options(sdtrain.StageUNet, true).Weighting; got != tc.want {
			t.Errorf("--weighting %q: options' weighting %q, want %q", tc.flag, got, tc.want)
		}
	}
	for _, tc := range []struct {
		flag   []string
		pureGo bool
		want   int
	}{
		{nil, true, 2}, // the recipe's, for the pure-Go backend
		{nil, false, 1},
		{[]string{"--shards", "4"}, true, 4},
		{[]string{"--shards", "4"}, false, 4},
	} {
		w, err := parseWorldTrainArgs(Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}, tc.flag)
		if err != nil {
			t.Fatal(err)
		}
		for _, stage := range []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet} {
			if got := w.options(stage, tc.pureGo).Shards; got != tc.want {
				t.Errorf("%v, pure Go %v, %s: %d shards, want %d", tc.flag, tc.pureGo, stage, got, tc.want)
			}
		}
	}
	if wd, _ := os.Getwd(); strings.HasPrefix(a.ckpt, filepath.Dir(filepath.Dir(wd))) {
		t.Fatalf("default checkpoint folder %s lies inside the source tree", a.ckpt)
	}
}

// TestWorldTrainEndToEnd runs both stages of the real architecture for two
// steps on world renders, exports, and loads the folder with model/sd's
// standard loader.
func TestWorldTrainEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the full Kata World training graphs")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "model")
	var stdout, stderr bytes.Buffer
	status := Main(context.Background(), []string{"world", "train", "--stage", "all", "--steps", "2", "--batch", "2",
		"--latent-samples", "4", "--preview=false", "--backend", "go", "--ckpt", dir, "--out", out}, Env{Stdout: &stdout, Stderr: &stderr})
	if status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, stderr.String())
	}
	for _, want := range []string{"vae stage: 2 steps", "unet stage: 2 steps", "model " + out} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("stdout %q lacks %q", stdout.String(), want)
		}
	}
	if !strings.Contains(stderr.String(), "step 2/2 loss") {
		t.Fatalf("stderr (not a terminal) lacks plain progress lines:\n%s", stderr.String())
	}
	for _, p := range []string{sdtrain.LossCurvePath(dir, sdtrain.StageVAE), sdtrain.LossCurvePath(dir, sdtrain.StageUNet)} {
		if _, err := os.Stat(p); err != nil {
			t.Fatal(err)
		}
	}
	m, err := sd.Load(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Finalize()
	if m.UNet.NumCrossAttentionLayers() != 16 || m.Text.VocabSize != 49408 {
		t.Fatalf("exported model has %d cross-attention layers and %d tokens", m.UNet.NumCrossAttentionLayers(), m.Text.VocabSize)
	}

	// --stage export writes the same weights again from the checkpoint.
	again := filepath.Join(dir, "again")
	stdout.Reset()
	if status := Main(context.Background(), []string{"world", "train", "--stage", "export", "--ckpt", dir, "--out", again},
		Env{Stdout: &stdout, Stderr: &stderr}); status != 0 {
		t.Fatalf("export: status %d; stderr:\n%s", status, stderr.String())
	}
	for _, f := range []string{"unet/diffusion_pytorch_model.safetensors", "vae/config.json", "text_encoder/model.safetensors"} {
		a, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(again, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("%s differs between the two exports", f)
		}
	}
}
