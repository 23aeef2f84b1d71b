package ui

import (
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"kata/model/sd/sdtest"
	"kata/store"
)

// TestGenerationOptions picks a sampler with a schedule type and two
// images per click (seeds 42 and 43 in the gallery, the schedule in their
// settings), shows the schedule menu only for samplers that take one, and
// chooses a VAE (kept when the dialog is cancelled) and a LoRA folder.
func TestGenerationOptions(t *testing.T) {
	picker := &scriptedPicker{answers: []string{sdtest.TinyDir()}}
	svc := newTestServices(t)
	m := newTestWindowWith(t, picker, svc)
	test.Tap(findButton(t, m.Window().Content(), "Add model folder…"))
	m.WaitIdle()
	o := m.gallery.options

	o.sampler.SetSelected("DDIM")
	if o.schedule.Visible() {
		t.Error("DDIM shows a schedule menu")
	}
	o.sampler.SetSelected("DPM++ SDE")
	if !o.schedule.Visible() {
		t.Error("DPM++ SDE hides its schedule menu")
	}
	o.schedule.SetSelected("Exponential")
	o.batch.SetSelected("2")
	m.sidebar.Select(1)
	m.WaitIdle()
	m.gallery.prompt.SetText("a cat")
	m.gallery.seed.SetText("42")
	test.Tap(m.gallery.generate)
	m.WaitIdle()
	if got := m.Status(); !strings.Contains(got, "Done: 2 image(s)") || len(m.gallery.items) != 2 {
		t.Fatalf("status %q, %d images", got, len(m.gallery.items))
	}
	seeds := map[uint64]bool{}
	for _, g := range m.gallery.items {
		seeds[g.Seed] = true
		s, err := store.ReadSettings(g.ImagePath)
		if err != nil || !strings.HasPrefix(s.Sampler, "DPM++ SDE") || !strings.Contains(s.Sampler+s.ScheduleType, "Exponential") {
			t.Errorf("settings %+v, %v", s, err)
		}
	}
	if !seeds[42] || !seeds[43] {
		t.Errorf("seeds %v", seeds)
	}

	vae := filepath.Join(sdtest.TinyDir(), "vae")
	picker.answers = []string{vae}
	o.vae.SetSelected(vaeFolder)
	m.WaitIdle()
	if svc.VAE() != vae || o.vae.Selected != "vae" {
		t.Errorf("VAE %q, menu %q", svc.VAE(), o.vae.Selected)
	}
	// The choice is remembered: a new row (the next start) reads it back.
	if again := newGenOptions(m); again.vae.Selected != "vae" {
		t.Errorf("remembered VAE %q", again.vae.Selected)
	}
	picker.answers = []string{""} // cancelled
	o.vae.SetSelected(vaeFile)
	m.WaitIdle()
	if svc.VAE() != vae || o.vae.Selected != "vae" {
		t.Errorf("after a cancelled dialog: VAE %q, menu %q", svc.VAE(), o.vae.Selected)
	}
	o.vae.SetSelected(vaeOwn)
	if svc.VAE() != "" {
		t.Errorf("own VAE: %q", svc.VAE())
	}
	loras := t.TempDir()
	picker.answers = []string{loras}
	test.Tap(o.loraDir)
	m.WaitIdle()
	if svc.LoRAFolder() != loras {
		t.Errorf("LoRA folder %q", svc.LoRAFolder())
	}
	svc.SetLoRADir("")
	newGenOptions(m)
	if svc.LoRAFolder() != loras {
		t.Errorf("remembered LoRA folder %q", svc.LoRAFolder())
	}
}
