package ui

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"

	"kata/app"
	"kata/store/imagemeta"
)

func TestDropSettingsOnGallery(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	dir := t.TempDir()
	var withSettings bytes.Buffer
	params := "a robot <salute>\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 42, Size: 64x64, Model: foo"
	if err := imagemeta.InsertPNGText(&withSettings, testPNG(t, 5), []imagemeta.TextChunk{{Key: imagemeta.KeyParameters, Text: params}}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "made-elsewhere.png")
	if err := os.WriteFile(p, withSettings.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	drop := func(path string) {
		m.sidebar.Select(galleryPageIndex)
		m.HandleDrop(fyne.NewPos(5, 5), []fyne.URI{storage.NewFileURI(path)})
		m.WaitIdle()
	}

	drop(p)
	if m.dropDialog == nil || m.CurrentPage() != "Gallery" {
		t.Fatalf("no question after dropping a picture with settings (page %s, status %q)", m.CurrentPage(), m.Status())
	}
	m.answerDrop(true, p, mustSettings(t, p))
	if m.gallery.prompt.Text != "a robot <salute>" || m.gallery.negative.Text != "blurry" || m.gallery.seed.Text != "42" ||
		m.gallery.options.sampler.Selected != "DPM++ 2M" || m.gallery.options.schedule.Selected != "Karras" || !strings.Contains(m.Status(), "model foo") {
		t.Errorf("settings used: prompt %q negative %q seed %q, status %q", m.gallery.prompt.Text, m.gallery.negative.Text,
			m.gallery.seed.Text, m.Status())
	}

	drop(p)
	m.answerDrop(false, p, mustSettings(t, p))
	m.WaitIdle()
	if m.CurrentPage() != "Actions" || !strings.Contains(m.Status(), "Added 1 photo(s)") {
		t.Errorf("add as photo: page %s, status %q", m.CurrentPage(), m.Status())
	}

	// A picture without settings is added as a photo without a question.
	drop(writePNG(t, dir, "plain.png", 6))
	if m.dropDialog != nil || m.CurrentPage() != "Actions" || !strings.Contains(m.Status(), "Added 1 photo(s)") {
		t.Errorf("plain picture: dialog %v, page %s, status %q", m.dropDialog != nil, m.CurrentPage(), m.Status())
	}
}

func mustSettings(t *testing.T, path string) app.ImageSettings {
	t.Helper()
	s, err := app.ReadImageSettings(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReuseRestoresAllSettings checks that "use these settings again" on a
// library image brings back every setting its file records (LoRA tags stay
// in the prompt), and the gallery's record when the file has none.
func TestReuseRestoresAllSettings(t *testing.T) {
	m := newTestWindow(t, &scriptedPicker{})
	showPage(t, m, "Gallery")
	dir := t.TempDir()
	var withSettings bytes.Buffer
	params := "a robot <salute> <lora:ink:0.8>\nNegative prompt: blurry\n" +
		"Steps: 33, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5.5, Seed: 42, Size: 512x512"
	if err := imagemeta.InsertPNGText(&withSettings, testPNG(t, 5), []imagemeta.TextChunk{{Key: imagemeta.KeyParameters, Text: params}}); err != nil {
		t.Fatal(err)
	}
	recorded := filepath.Join(dir, "kata-1.png")
	if err := os.WriteFile(recorded, withSettings.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	g := m.gallery
	for _, tc := range []struct {
		name                          string
		gen                           app.GenerationInfo
		prompt, negative, seed        string
		sampler, schedule             string
		steps, cfg, size, statusNotes string
	}{
		{"from the file", app.GenerationInfo{ID: 1, ImagePath: recorded, Prompt: "stale", Seed: 1},
			"a robot <salute> <lora:ink:0.8>", "blurry", "42", "DPM++ 2M", "Karras", "33", "5.5", "512", ""},
		{"file without settings", app.GenerationInfo{ID: 2, ImagePath: writePNG(t, dir, "plain.png", 3), Prompt: "a panda <salute>",
			Negative: "dark", Seed: 7, Steps: 12, CFG: 4, Width: 256, Height: 256, Sampler: "Euler"},
			"a panda <salute>", "dark", "7", "DPM++ 2M", "Karras", "12", "4", "256", "the sampler"},
	} {
		g.reuse(tc.gen)
		m.WaitIdle()
		got := []string{g.prompt.Text, g.negative.Text, g.seed.Text, g.options.sampler.Selected, g.options.schedule.Selected,
			g.advanced.steps.Text, g.advanced.cfg.Text, g.advanced.size.Text}
		want := []string{tc.prompt, tc.negative, tc.seed, tc.sampler, tc.schedule, tc.steps, tc.cfg, tc.size}
		if !slices.Equal(got, want) {
			t.Errorf("%s: prompt, negative, seed, sampler, schedule, steps, CFG, size = %q, want %q", tc.name, got, want)
		}
		if status := m.Status(); !strings.Contains(status, fmt.Sprintf("image %d loaded", tc.gen.ID)) ||
			(tc.statusNotes != "") != strings.Contains(status, "Not used") || !strings.Contains(status, tc.statusNotes) {
			t.Errorf("%s: status %q", tc.name, status)
		}
	}
}
