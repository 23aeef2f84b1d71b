package worldmodel

import (
	gocontext "context"
	"errors"
	"testing"

	"kata/model/backend"
	"kata/model/safetensors"
	"kata/model/sdtrain"
)

// checkpointBytes returns every tensor of a checkpoint file by name.
func checkpointBytes(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	for _, n := range f.Names() {
		b, err := f.Bytes(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = append([]byte(nil), b...)
	}
	return out
}

// TestRealArchitectureResumesBitForBit checks on Kata World's own
// architecture and data (the kernels' parallel paths that the tiny test
// model of sdtrain does not reach) that a stage stopped after one step and
// resumed ends with the same weights, moments, EMA and losses as one run
// straight through, that one with the host work serial (Options.Serial),
// the stopped one overlapped (the default): neither the split of the host
// update nor the batch drawn ahead changes a bit.
func TestRealArchitectureResumesBitForBit(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the full training graphs")
	}
	be, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	whole, parted := t.TempDir(), t.TempDir()
	for _, stage := range []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet} {
		t.Run(string(stage), func(t *testing.T) {
			o := Recipe(stage).WithSteps(3)
			o.Batch, o.Warmup, o.Seed, o.LatentSamples, o.NoPreview = 2, 1, 5, 4, true
			o.CheckpointDir, o.Serial = whole, true
			if _, err := sdtrain.Train(gocontext.Background(), be, Architecture(), Source{}, o, nil); err != nil {
				t.Fatal(err)
			}
			o.CheckpointDir, o.Serial = parted, false
			ctx, cancel := gocontext.WithCancel(gocontext.Background())
			_, err := sdtrain.Train(ctx, be, Architecture(), Source{}, o, func(e sdtrain.Event) {
				if e.Kind == sdtrain.EventStep && e.Step == 1 {
					cancel()
				}
			})
			if !errors.Is(err, gocontext.Canceled) {
				t.Fatalf("stopped run returned %v", err)
			}
			o.Resume = true
			if _, err := sdtrain.Train(gocontext.Background(), be, Architecture(), Source{}, o, nil); err != nil {
				t.Fatal(err)
			}
			a := checkpointBytes(t, sdtrain.CheckpointPath(whole, stage))
			b := checkpointBytes(t, sdtrain.CheckpointPath(parted, stage))
			if len(a) != len(b) || len(a) == 0 {
				t.Fatalf("%d vs %d tensors", len(a), len(b))
			}
			for n, x := range a {
				if string(x) != string(b[n]) {
					t.Fatalf("%s differs after resuming", n)
				}
			}
		})
	}
}
