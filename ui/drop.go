package ui

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// galleryPageIndex is the Gallery's place in the sidebar.
const galleryPageIndex = 1

// dropOnGallery handles one picture dropped while the Gallery shows: it
// reads the file off the UI goroutine, and when it carries generation
// settings (Kata's, AUTOMATIC1111's, ComfyUI's or InvokeAI's) asks whether to
// use them or to add the picture as a photo; otherwise it adds it as a photo.
func (m *MainWindow) dropOnGallery(path string) {
	var s app.ImageSettings
	var readErr error
	m.bg.run(func() error {
		s, readErr = app.ReadImageSettings(path)
		return nil
	}, func(error) {
		if readErr != nil {
			m.answerDrop(false, path, s)
			return
		}
		msg := fmt.Sprintf("%s has generation settings from %s:\n%s", filepath.Base(path), s.Source, ellipsis(s.Prompt, 120))
		m.dropDialog = dialog.NewCustomConfirm("Use these settings?", "Use settings", "Add as photo",
			widget.NewLabel(msg), func(use bool) { m.answerDrop(use, path, s) }, m.win)
		m.dropDialog.Show()
	})
}

// answerDrop carries out the choice of dropOnGallery's question.
func (m *MainWindow) answerDrop(use bool, path string, s app.ImageSettings) {
	m.dropDialog = nil
	if !use {
		m.sidebar.Select(0)
		m.actions.addPhotos([]string{path})
		return
	}
	m.gallery.useSettings(s, s.Source)
}

// useSettings puts settings read from an image (from names where they come
// from) into the prompt bar and the Advanced rows, and says in the status
// bar what is left out: the window sets prompt, negative prompt, seed,
// sampler and schedule type, steps, CFG and a square size; the rest is named.
func (p *galleryPage) useSettings(s app.ImageSettings, from string) {
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
	ignored := slices.Clone(s.Ignored)
	if s.Steps > 0 || s.CFG > 0 || s.Width > 0 || s.Height > 0 {
		d, _ := p.advanced.settings() // what the image leaves out stays as the form has it
		if s.Steps > 0 {
			d.Steps = s.Steps
		}
		if s.CFG > 0 {
			d.CFG = s.CFG
		}
		switch {
		case s.Width > 0 && s.Width == s.Height:
			d.Size = s.Width
		case s.Width > 0 || s.Height > 0:
			ignored = append(ignored, fmt.Sprintf("size %dx%d (the window makes square images)", s.Width, s.Height))
		}
		if err := d.Validate(); err != nil {
			ignored = append(ignored, err.Error())
		} else {
			p.advanced.set(d)
		}
	}
	if s.Model != "" {
		ignored = append(ignored, "model "+s.Model+" (the model chosen in the top bar is used)")
	}
	status := "Settings from " + from + " loaded: press Generate."
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
