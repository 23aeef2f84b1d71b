package scheduler

import (
	"fmt"
	"strings"
)

// samplerSpec is one sampler of the table: its canonical id, its
// AUTOMATIC1111 name, other spellings, and how it is built.
type samplerSpec struct {
	id      string
	display string   // AUTOMATIC1111's name, as written in "Sampler: ..."
	aliases []string // k-diffusion/A1111 short names, ComfyUI and InvokeAI names, common spellings
	// stochastic samplers draw fresh noise at every step from Step's rng.
	stochastic bool
	// kdiffusion samplers accept every schedule type (NewKDiffusion).
	kdiffusion bool
	// native builds Kata's diffusers-equivalent implementation for the
	// schedule ids it covers (ok false: not covered).
	native func(cfg Config, steps int, schedule string) (s Sampler, ok bool, err error)
	// autoLabel is the "Schedule type" written for the automatic schedule
	// of the native implementation ("" writes none).
	autoLabel string
}

// samplers is the one table of samplers: New, Names, Canonical,
// DisplayName and Infotext all read it.
var samplers = []samplerSpec{
	{id: "ddim", display: "DDIM", native: func(cfg Config, steps int, sched string) (Sampler, bool, error) {
		if sched != "automatic" {
			return nil, false, nil
		}
		s, err := NewDDIM(cfg, steps, 0)
		return s, true, err
	}},
	{id: "euler", display: "Euler", aliases: []string{"k_euler"}, kdiffusion: true,
		native: func(cfg Config, steps int, sched string) (Sampler, bool, error) {
			if sched != "automatic" && sched != "karras" {
				return nil, false, nil
			}
			s, err := NewEuler(cfg, steps, sched == "karras")
			return s, true, err
		}},
	{id: "euler_a", display: "Euler a", aliases: []string{"euler_ancestral", "k_euler_a", "k_euler_ancestral"},
		stochastic: true, kdiffusion: true,
		native: func(cfg Config, steps int, sched string) (Sampler, bool, error) {
			if sched != "automatic" {
				return nil, false, nil
			}
			s, err := NewEulerAncestral(cfg, steps)
			return s, true, err
		}},
	{id: "heun", display: "Heun", aliases: []string{"k_heun"}, kdiffusion: true},
	{id: "lms", display: "LMS", aliases: []string{"k_lms"}, kdiffusion: true},
	{id: "dpm2", display: "DPM2", aliases: []string{"k_dpm_2", "dpm_2", "kdpm_2"}, kdiffusion: true},
	{id: "dpm2_a", display: "DPM2 a", aliases: []string{"k_dpm_2_a", "dpm_2_ancestral", "kdpm_2_a"}, stochastic: true, kdiffusion: true},
	{id: "dpmpp_2m", display: "DPM++ 2M", aliases: []string{"k_dpmpp_2m"}, kdiffusion: true, autoLabel: "Uniform",
		native: func(cfg Config, steps int, sched string) (Sampler, bool, error) {
			if sched != "automatic" && sched != "karras" {
				return nil, false, nil
			}
			s, err := NewDPMPP2M(cfg, steps, sched == "karras")
			return s, true, err
		}},
	{id: "dpmpp_2s_a", display: "DPM++ 2S a", aliases: []string{"k_dpmpp_2s_a", "dpmpp_2s_ancestral"}, stochastic: true, kdiffusion: true},
	{id: "dpmpp_sde", display: "DPM++ SDE", aliases: []string{"k_dpmpp_sde"}, stochastic: true, kdiffusion: true},
	{id: "dpmpp_2m_sde", display: "DPM++ 2M SDE", aliases: []string{"k_dpmpp_2m_sde"}, stochastic: true, kdiffusion: true},
	{id: "dpmpp_2m_sde_heun", display: "DPM++ 2M SDE Heun", aliases: []string{"k_dpmpp_2m_sde_heun"}, stochastic: true, kdiffusion: true},
	{id: "unipc", display: "UniPC", aliases: []string{"uni_pc"}, native: func(cfg Config, steps int, sched string) (Sampler, bool, error) {
		if sched != "automatic" {
			return nil, false, nil
		}
		s, err := NewUniPC(cfg, steps)
		return s, true, err
	}},
}

// SamplerInfo describes one sampler of the table, for menus and help: a
// menu offers Label, and a second menu of ScheduleTypes when Schedules is
// set; NewScheduled(ID or Label, schedule type, ...) builds the choice.
type SamplerInfo struct {
	ID         string   // canonical id ("dpmpp_sde")
	Label      string   // AUTOMATIC1111's sampler name ("DPM++ SDE")
	Aliases    []string // other accepted spellings
	Stochastic bool     // draws fresh noise at every step
	Schedules  bool     // takes every schedule type (else only Automatic)
}

// Samplers returns the sampler table, one entry per sampler (13: DDIM,
// Euler, Euler a, Heun, LMS, DPM2, DPM2 a, DPM++ 2M, DPM++ 2S a, DPM++ SDE,
// DPM++ 2M SDE, DPM++ 2M SDE Heun, UniPC).
func Samplers() []SamplerInfo {
	out := make([]SamplerInfo, len(samplers))
	for i, s := range samplers {
		out[i] = SamplerInfo{ID: s.id, Label: s.display, Aliases: append([]string(nil), s.aliases...),
			Stochastic: s.stochastic, Schedules: s.kdiffusion}
	}
	return out
}

// Default is the sampler of Kata's own generations when none is chosen: the
// window's, kata generate's and kata bench actions' (AUTOMATIC1111's "Euler
// a"). The sd pipeline's zero value stays diffusers' DDIM (sd.DefaultSampler).
const Default = "euler_a"

// Names lists the canonical sampler names with their automatic schedule,
// plus the "_karras" forms Kata had before schedule types ("euler_karras",
// "dpmpp_2m_karras"); every k-diffusion sampler also takes any other
// schedule type (see Canonical).
func Names() []string {
	var out []string
	for _, s := range samplers {
		out = append(out, s.id)
		if s.id == "euler" || s.id == "dpmpp_2m" {
			out = append(out, s.id+"_karras")
		}
	}
	return out
}

// parseName splits a canonical or AUTOMATIC1111 sampler name, possibly with
// a schedule suffix ("DPM++ 2M SDE Karras", "dpmpp_sde_karras",
// "Euler Exponential"), into its table entry and schedule id ("automatic"
// without a suffix). Names are compared case-insensitively.
func parseName(name string) (*samplerSpec, string, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	find := func(n string) *samplerSpec {
		for i := range samplers {
			s := &samplers[i]
			if n == s.id || n == strings.ToLower(s.display) {
				return s
			}
			for _, a := range s.aliases {
				if n == a {
					return s
				}
			}
		}
		return nil
	}
	if s := find(n); s != nil {
		return s, "automatic", true
	}
	for _, st := range scheduleTypes[1:] {
		for _, suffix := range []string{" " + strings.ToLower(st.Label), "_" + st.ID} {
			if prefix, ok := strings.CutSuffix(n, suffix); ok {
				if s := find(prefix); s != nil {
					return s, st.ID, true
				}
			}
		}
	}
	return nil, "", false
}

// Canonical returns the canonical name for a sampler name (canonical or
// AUTOMATIC1111's, with or without a schedule suffix) and a schedule type
// (id or label; "" or "Automatic" keeps the name's own), as AUTOMATIC1111
// 1.9+ writes them separately ("Sampler: DPM++ 2M, Schedule type: Karras"
// gives "dpmpp_2m_karras"). A name's suffix and a different explicit
// schedule type conflict.
func Canonical(name, schedule string) (string, error) {
	spec, suffix, ok := parseName(name)
	if !ok {
		return "", fmt.Errorf("scheduler: unknown sampler %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	st, ok := CanonicalSchedule(schedule)
	if !ok {
		return "", fmt.Errorf("scheduler: unknown schedule type %q", schedule)
	}
	if st == "automatic" {
		st = suffix
	} else if suffix != "automatic" && suffix != st {
		return "", fmt.Errorf("scheduler: sampler %q and schedule type %q disagree", name, schedule)
	}
	if st == "automatic" {
		return spec.id, nil
	}
	return spec.id + "_" + st, nil
}

// CanonicalName returns the canonical sampler name for a canonical or
// AUTOMATIC1111 display name ("DDIM", "Euler a", "DPM++ 2M Karras",
// "DPM++ SDE", "Heun", "LMS Karras", ...).
func CanonicalName(name string) (string, bool) {
	c, err := Canonical(name, "")
	return c, err == nil
}

// DisplayName returns the AUTOMATIC1111 name of a canonical sampler name in
// the form before schedule types ("DPM++ 2M Karras"), as older
// AUTOMATIC1111 versions and most tools read it. A k-diffusion sampler on
// its automatic schedule is written with the schedule it resolves to
// unless that is Uniform ("dpmpp_sde" gives "DPM++ SDE Karras"), since
// AUTOMATIC1111 before 1.9 read the bare name as Uniform. An unknown name
// is returned as it is.
func DisplayName(canonical string) string {
	spec, st, ok := parseName(canonical)
	if !ok {
		return canonical
	}
	if st == "automatic" && spec.native == nil {
		st = kMethods[spec.id].automatic
	}
	if st == "automatic" || (st == "uniform" && spec.native == nil) {
		return spec.display
	}
	return spec.display + " " + ScheduleLabel(st)
}

// Infotext returns the "Sampler" and "Schedule type" values AUTOMATIC1111
// 1.9+ writes for a canonical sampler name: the sampler's own name and the
// schedule type its steps follow (for k-diffusion samplers on "automatic",
// the one AUTOMATIC1111's Automatic means; "" when none should be written,
// as for DDIM). An unknown name is returned as it is, with "".
func Infotext(canonical string) (sampler, scheduleType string) {
	spec, st, ok := parseName(canonical)
	if !ok {
		return canonical, ""
	}
	if st != "automatic" {
		return spec.display, ScheduleLabel(st)
	}
	if spec.native != nil {
		return spec.display, spec.autoLabel
	}
	return spec.display, ScheduleLabel(kMethods[spec.id].automatic)
}

// Stochastic reports whether the named sampler draws fresh noise at every
// step (so that Step needs its rng).
func Stochastic(name string) bool {
	spec, _, ok := parseName(name)
	return ok && spec.stochastic
}

// New builds the named sampler (canonical or AUTOMATIC1111 name, with or
// without a schedule suffix; see Canonical) for steps denoising steps over
// the training schedule of cfg. DDIM runs with eta 0; use NewDDIM for other
// values. Euler, Euler a, DPM++ 2M and DDIM on their automatic schedule,
// and Euler and DPM++ 2M on Karras, are Kata's diffusers-equivalent
// implementations; every other combination runs k-diffusion's algorithm
// (KDiffusion).
func New(name string, cfg Config, steps int) (Sampler, error) {
	return NewScheduled(name, "", cfg, steps)
}

// NewScheduled is New with a separate schedule type (id or AUTOMATIC1111
// label; "" for the name's own).
func NewScheduled(name, schedule string, cfg Config, steps int) (Sampler, error) {
	c, err := Canonical(name, schedule)
	if err != nil {
		return nil, err
	}
	spec, st, _ := parseName(c)
	if spec.native != nil {
		s, ok, err := spec.native(cfg, steps, st)
		if ok {
			return s, err
		}
	}
	if !spec.kdiffusion {
		return nil, fmt.Errorf("scheduler: %s takes no schedule type (got %q)", spec.display, ScheduleLabel(st))
	}
	return NewKDiffusion(cfg, spec.id, st, steps)
}
