package ui

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// galleryPageIndex is the Gallery's place in the sidebar.
const galleryPageIndex = 1

// dropOnGallery handles one picture dropped while the Gallery shows: when it
// carries generation settings (Kata's, AUTOMATIC1111's, ComfyUI's or
// InvokeAI's) it asks whether to use them or to add the picture as a photo,
// and reports false when it does not (the caller imports it as before).
func (m *MainWindow) dropOnGallery(path string) bool {
	s, err := app.ReadImageSettings(path)
	if err != nil {
		return false
	}
	msg := fmt.Sprintf("%s has generation settings from %s:\n%s", filepath.Base(path), s.Source, ellipsis(s.Prompt, 120))
	m.dropDialog = dialog.NewCustomConfirm("Use these settings?", "Use settings", "Add as photo",
		widget.NewLabel(msg), func(use bool) { m.answerDrop(use, path, s) }, m.win)
	m.dropDialog.Show()
	return true
}

// answerDrop carries out the choice of dropOnGallery's question.
func (m *MainWindow) answerDrop(use bool, path string, s app.ImageSettings) {
	m.dropDialog = nil
	if !use {
		m.sidebar.Select(0)
		m.actions.addPhotos([]string{path})
		return
	}
	m.gallery.useSettings(s)
}

// useSettings puts settings read from an image into the prompt bar and says
// in the status bar what came from where and what is left out: the window
// sets prompt, negative prompt, seed, sampler and schedule type; the rest is
// named.
func (p *galleryPage) useSettings(s app.ImageSettings) {
	p.prompt.SetText(s.Prompt)
	p.negative.SetText(s.Negative)
	if s.HasSeed {
		p.seed.SetText(strconv.FormatUint(s.Seed, 10))
	} else {
		p.seed.SetText("")
	}
	if s.SamplerLabel != "" {
		p.options.sampler.SetSelected(s.SamplerLabel)
		p.options.schedule.SetSelected(s.ScheduleType)
	}
	ignored := s.Ignored
	if s.Model != "" {
		ignored = append(ignored, "model "+s.Model+" (the model chosen in the top bar is used)")
	}
	status := "Settings from " + s.Source + " loaded: press Generate."
	if len(ignored) > 0 {
		status += " Not used: " + strings.Join(ignored, "; ") + "."
	}
	p.m.setStatus(status)
}

func ellipsis(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
