package ui

import (
	"bytes"
	"os"
	"path/filepath"
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
