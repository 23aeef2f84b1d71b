package scheduler

import (
	"math"
	"testing"
)

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func TestDDIMTimesteps(t *testing.T) {
	ref := reference(t)
	cfg := fixtureConfig(t)
	for _, c := range []struct {
		steps int
		name  string
	}{{4, "ddim_timesteps_4"}, {20, "ddim_timesteps_20"}} {
		want := refTensor(t, ref, c.name)
		d, err := NewDDIM(cfg, c.steps, 0)
		if err != nil {
			t.Fatal(err)
		}
		got := d.Timesteps()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", c.name, got, want)
		}
		for i := range want {
			if got[i] != float64(want[i]) {
				t.Fatalf("%s: %v, want %v", c.name, got, want)
			}
		}
	}
}

// The two single DDIM steps of the fixture: case a is an interior step, case
// b the last step of 4, whose previous timestep is negative.
func TestDDIMSingleSteps(t *testing.T) {
	ref := reference(t)
	cfg := fixtureConfig(t)
	for _, c := range []string{"a", "b"} {
		p := "ddim_step_" + c + "_"
		steps := int(refTensor(t, ref, p+"num_inference_steps")[0])
		ts := int(refTensor(t, ref, p+"timestep")[0])
		d, err := NewDDIM(cfg, steps, 0)
		if err != nil {
			t.Fatal(err)
		}
		i := -1
		for k, v := range d.IntTimesteps() {
			if v == ts {
				i = k
			}
		}
		if i < 0 {
			t.Fatalf("case %s: timestep %d not among %v", c, ts, d.Timesteps())
		}
		prev, x0, err := d.StepWithPrediction(refTensor(t, ref, p+"model_output"), i, refTensor(t, ref, p+"sample"), nil)
		if err != nil {
			t.Fatal(err)
		}
		// reference.json gives 2e-7..9e-7 as the float32 vs float64 spread.
		if diff := maxAbsDiff(prev, refTensor(t, ref, p+"prev_sample")); diff > 2e-6 {
			t.Errorf("case %s prev_sample: max |diff| %g", c, diff)
		}
		if diff := maxAbsDiff(x0, refTensor(t, ref, p+"pred_original_sample")); diff > 2e-6 {
			t.Errorf("case %s pred_original_sample: max |diff| %g", c, diff)
		}
		t.Logf("case %s (t=%d, %d steps): prev max diff %g, x0 max diff %g", c, ts, steps,
			maxAbsDiff(prev, refTensor(t, ref, p+"prev_sample")), maxAbsDiff(x0, refTensor(t, ref, p+"pred_original_sample")))
	}
}

// The end-to-end DDIM loop of the fixture, driven by its recorded guided
// noise predictions: 4 steps from e2e_init_noise to every recorded latent.
func TestDDIMEndToEndLatents(t *testing.T) {
	ref := reference(t)
	d, err := New("DDIM", fixtureConfig(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	x := refTensor(t, ref, "e2e_init_noise")
	x = append([]float32(nil), x...)
	for i := range len(x) {
		x[i] *= float32(d.InitNoiseSigma())
	}
	preds := refTensor(t, ref, "e2e_guided_noise_preds")
	want := refTensor(t, ref, "e2e_latents_per_step")
	n := len(x)
	for i := 0; i < d.Len(); i++ {
		x, err = d.Step(preds[i*n:(i+1)*n], i, d.ScaleModelInput(x, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		// Values reach ~14; the fixture's float32/float64 spread is 1.5e-5.
		if diff := maxAbsDiff(x, want[i*n:(i+1)*n]); diff > 1e-5 {
			t.Errorf("step %d: max |diff| %g", i, diff)
		}
	}
	if diff := maxAbsDiff(x, refTensor(t, ref, "e2e_final_latent")); diff > 1e-5 {
		t.Errorf("final latent: max |diff| %g", diff)
	}
}
