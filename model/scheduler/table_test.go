package scheduler

import (
	"fmt"
	"reflect"
	"testing"
)

// Every AUTOMATIC1111 sampler name Kata accepts, old style (schedule in the
// name) and new style (separate "Schedule type"), with the canonical name
// and the type of implementation it gets.
func TestSamplerTable(t *testing.T) {
	cases := []struct {
		name, schedule string
		canonical      string
		kdiffusion     bool
	}{
		{"DDIM", "", "ddim", false},
		{"Euler", "", "euler", false},
		{"Euler", "Karras", "euler_karras", false},
		{"Euler Karras", "", "euler_karras", false},
		{"Euler", "Exponential", "euler_exponential", true},
		{"Euler a", "", "euler_a", false},
		{"Euler a", "Karras", "euler_a_karras", true},
		{"k_euler_a", "", "euler_a", false},
		{"DPM++ 2M", "", "dpmpp_2m", false},
		{"DPM++ 2M Karras", "", "dpmpp_2m_karras", false},
		{"DPM++ 2M", "Karras", "dpmpp_2m_karras", false},
		{"DPM++ 2M", "SGM Uniform", "dpmpp_2m_sgm_uniform", true},
		{"DPM++ SDE", "", "dpmpp_sde", true},
		{"DPM++ SDE Karras", "", "dpmpp_sde_karras", true},
		{"DPM++ SDE", "Karras", "dpmpp_sde_karras", true},
		{"DPM++ 2M SDE", "", "dpmpp_2m_sde", true},
		{"DPM++ 2M SDE Karras", "", "dpmpp_2m_sde_karras", true},
		{"DPM++ 2M SDE", "Exponential", "dpmpp_2m_sde_exponential", true},
		{"Heun", "", "heun", true},
		{"heun", "Align Your Steps", "heun_align_your_steps", true},
		{"LMS", "", "lms", true},
		{"LMS Karras", "", "lms_karras", true},
		{"DPM2", "", "dpm2", true},
		{"DPM2 Karras", "", "dpm2_karras", true},
		{"DPM2 a", "", "dpm2_a", true},
		{"DPM2 a Karras", "", "dpm2_a_karras", true},
		{"dpm2_a", "KL Optimal", "dpm2_a_kl_optimal", true},
		{"Euler", "Automatic", "euler", false},
		{"Euler a", "Beta", "euler_a_beta", true},
		{"UniPC", "", "unipc", false},
		{"DPM++ 2S a", "", "dpmpp_2s_a", true},
		{"DPM++ 2S a Karras", "", "dpmpp_2s_a_karras", true},
		{"DPM++ 2M SDE Heun", "", "dpmpp_2m_sde_heun", true},
		{"DPM++ 2M SDE Heun Karras", "", "dpmpp_2m_sde_heun_karras", true},
		// ComfyUI's KSampler names (sampler_name, then _scheduler).
		{"euler_ancestral", "", "euler_a", false},
		{"dpm_2_ancestral_karras", "", "dpm2_a_karras", true},
		{"dpmpp_2s_ancestral", "", "dpmpp_2s_a", true},
		{"uni_pc", "", "unipc", false},
		// InvokeAI's scheduler names ("_k" read as "_karras").
		{"kdpm_2_karras", "", "dpm2_karras", true},
		{"kdpm_2_a", "", "dpm2_a", true},
	}
	for _, c := range cases {
		got, err := Canonical(c.name, c.schedule)
		if err != nil || got != c.canonical {
			t.Errorf("Canonical(%q, %q) = %q, %v; want %q", c.name, c.schedule, got, err, c.canonical)
			continue
		}
		s, err := NewScheduled(c.name, c.schedule, DefaultConfig(), 10)
		if err != nil {
			t.Errorf("%s / %s: %v", c.name, c.schedule, err)
			continue
		}
		if _, isK := s.(*KDiffusion); isK != c.kdiffusion || s.Name() != c.canonical {
			t.Errorf("%s / %s: %T named %q, want k-diffusion %v named %q", c.name, c.schedule, s, s.Name(), c.kdiffusion, c.canonical)
		}
		// names round-trip through the display name to the same sampler
		back, err := New(DisplayName(c.canonical), DefaultConfig(), 10)
		if err != nil || !sameSchedule(back, s) {
			t.Errorf("%s: display name %q reads back as another sampler (%v)", c.canonical, DisplayName(c.canonical), err)
		}
		// and through AUTOMATIC1111 1.9's (sampler, schedule type) pair,
		// except where a native automatic schedule is written as its label
		smp, st := Infotext(c.canonical)
		if back, err := Canonical(smp, st); err != nil || (back != c.canonical && st == "") {
			t.Errorf("%s: infotext (%q, %q) reads back as %q, %v", c.canonical, smp, st, back, err)
		}
	}
	for _, bad := range [][2]string{
		{"plms", ""}, {"DDIM", "Karras"}, {"DPM++ 2M Karras", "Exponential"}, {"Euler", "Cosine"}, {"UniPC", "Karras"}, {"DPM++ 3M SDE", ""},
	} {
		if _, err := NewScheduled(bad[0], bad[1], DefaultConfig(), 10); err == nil {
			t.Errorf("%q / %q accepted", bad[0], bad[1])
		}
	}
}

// sameSchedule reports whether two samplers are the same algorithm on the
// same model timesteps.
func sameSchedule(a, b Sampler) bool {
	ka, aok := a.(*KDiffusion)
	kb, bok := b.(*KDiffusion)
	if aok != bok || (aok && ka.method != kb.method) || fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return false
	}
	return reflect.DeepEqual(a.Timesteps(), b.Timesteps())
}

func TestDisplayNames(t *testing.T) {
	for canonical, want := range map[string]string{
		"ddim": "DDIM", "euler": "Euler", "euler_karras": "Euler Karras", "dpmpp_2m": "DPM++ 2M",
		"heun": "Heun", "lms": "LMS", "lms_karras": "LMS Karras", "dpm2": "DPM2 Karras", "dpm2_a": "DPM2 a Karras",
		"dpmpp_sde": "DPM++ SDE Karras", "dpmpp_2m_sde": "DPM++ 2M SDE Exponential", "heun_uniform": "Heun",
		"dpmpp_sde_uniform": "DPM++ SDE", "unipc": "UniPC", "euler_a_sgm_uniform": "Euler a SGM Uniform", "what": "what",
	} {
		if got := DisplayName(canonical); got != want {
			t.Errorf("DisplayName(%s) = %q, want %q", canonical, got, want)
		}
	}
}

func TestInfotext(t *testing.T) {
	for canonical, want := range map[string][2]string{
		"ddim":                {"DDIM", ""},
		"euler":               {"Euler", ""},
		"euler_karras":        {"Euler", "Karras"},
		"dpmpp_2m":            {"DPM++ 2M", "Uniform"}, // A1111's Automatic would mean Karras
		"dpmpp_2m_karras":     {"DPM++ 2M", "Karras"},
		"dpmpp_sde":           {"DPM++ SDE", "Karras"}, // Automatic resolved as A1111 does
		"dpmpp_2m_sde":        {"DPM++ 2M SDE", "Exponential"},
		"heun":                {"Heun", "Uniform"},
		"dpm2_a":              {"DPM2 a", "Karras"},
		"lms_polyexponential": {"LMS", "Polyexponential"},
	} {
		s, st := Infotext(canonical)
		if s != want[0] || st != want[1] {
			t.Errorf("Infotext(%s) = %q, %q; want %q, %q", canonical, s, st, want[0], want[1])
		}
	}
	for name, want := range map[string]bool{"Euler a": true, "DPM++ SDE Karras": true, "dpmpp_2m_sde": true, "DPM2 a": true, "Heun": false, "DDIM": false, "x": false} {
		if Stochastic(name) != want {
			t.Errorf("Stochastic(%q) = %v", name, !want)
		}
	}
	// The automatic schedule of each k-diffusion sampler is A1111's.
	for name, want := range map[string]string{"heun": "uniform", "lms": "uniform", "dpm2": "karras", "dpmpp_sde": "karras", "dpmpp_2m_sde": "exponential"} {
		s, err := New(name, DefaultConfig(), 8)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.(*KDiffusion).ScheduleType(); got != want {
			t.Errorf("%s: automatic schedule %s, want %s", name, got, want)
		}
	}
}

func TestSamplersList(t *testing.T) {
	list := Samplers()
	if len(list) != 13 {
		t.Fatalf("%d samplers", len(list))
	}
	for _, info := range list {
		for _, name := range append([]string{info.ID, info.Label}, info.Aliases...) {
			if c, err := Canonical(name, ""); err != nil || c != info.ID {
				t.Errorf("%q reads as %q, %v; want %q", name, c, err, info.ID)
			}
		}
		if Stochastic(info.ID) != info.Stochastic {
			t.Errorf("%s: stochastic flags disagree", info.ID)
		}
		_, err := NewScheduled(info.Label, "Exponential", DefaultConfig(), 10)
		if (err == nil) != info.Schedules {
			t.Errorf("%s: Exponential schedule accepted %v, Schedules %v", info.ID, err == nil, info.Schedules)
		}
		if _, err := NewScheduled(info.Label, "Automatic", DefaultConfig(), 10); err != nil {
			t.Errorf("%s: %v", info.ID, err)
		}
	}
}
