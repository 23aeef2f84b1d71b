package ui

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// galleryPage makes images from prompts and shows the ones made so far.
type galleryPage struct {
	m        *MainWindow
	items    []app.GenerationInfo
	prompt   *widget.Entry
	negative *widget.Entry
	seed     *widget.Entry
	generate *widget.Button
	cancel   *widget.Button
	progress *widget.ProgressBar
	subjects *widget.Entry
	mix      *widget.Button
	advanced *generateForm
	bar      *fyne.Container
	stop     context.CancelFunc
}

func newGalleryPage(m *MainWindow) *galleryPage {
	p := &galleryPage{m: m}
	p.prompt = widget.NewEntry()
	p.prompt.SetPlaceHolder("a panda <handstand>")
	p.negative = widget.NewEntry()
	p.negative.SetPlaceHolder("negative prompt (optional)")
	p.seed = widget.NewEntry()
	p.seed.SetPlaceHolder("random seed")
	p.seed.Validator = func(s string) error {
		if s == "" {
			return nil
		}
		if _, err := strconv.ParseUint(s, 10, 64); err != nil {
			return errors.New("seed: a whole number, or empty for a random one")
		}
		return nil
	}
	p.generate = widget.NewButtonWithIcon("Generate", theme.MediaPlayIcon(), p.start)
	p.generate.Importance = widget.HighImportance
	p.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		if p.stop != nil {
			p.stop()
		}
	})
	p.cancel.Disable()
	p.progress = widget.NewProgressBar()
	seedBox := container.NewGridWrap(fyne.NewSize(140, p.seed.MinSize().Height), p.seed)
	export := widget.NewButtonWithIcon("Export…", theme.DownloadIcon(), p.export)
	row := container.NewBorder(nil, nil, nil, container.NewHBox(seedBox, p.generate, p.cancel, export), p.prompt)
	p.subjects = widget.NewEntry()
	p.subjects.SetPlaceHolder("subjects for a mix: a panda, a robot, our mascot")
	p.mix = widget.NewButtonWithIcon("Mix with every action", theme.ViewRestoreIcon(), p.startMix)
	sheet := widget.NewButtonWithIcon("Contact sheet…", theme.DocumentSaveIcon(), p.exportSheet)
	mixRow := container.NewBorder(nil, nil, nil, container.NewHBox(p.mix, sheet), p.subjects)
	p.advanced = newGenerateForm(generateDefaults(m.app.Preferences()))
	advanced := widget.NewAccordion(widget.NewAccordionItem("Advanced", container.NewVBox(p.negative, p.advanced.box)))
	p.bar = container.NewVBox(row, advanced, mixRow, p.progress)
	return p
}

// load fetches the gallery with thumbnails; it runs off the UI goroutine.
func (p *galleryPage) load() error {
	items, err := p.m.svc.Generations()
	fyne.DoAndWait(func() { p.items = items })
	return err
}

func (p *galleryPage) render() fyne.CanvasObject {
	var body fyne.CanvasObject
	if len(p.items) == 0 {
		body = emptyState(theme.GridIcon(), "Nothing generated yet",
			"Train an action first, then mix it with any subject here:\n"+
				"\"a panda <handstand>\", \"our mascot <salute>\".")
	} else {
		grid := container.NewGridWrap(fyne.NewSize(200, 236))
		for _, g := range p.items {
			img := canvas.NewImageFromImage(g.Thumb)
			img.FillMode = canvas.ImageFillContain
			caption := widget.NewLabel(g.Prompt)
			caption.Truncation = fyne.TextTruncateEllipsis
			reuse := widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), func() { p.reuse(g) })
			grid.Add(container.NewBorder(nil, container.NewBorder(nil, nil, nil, reuse, caption), nil, nil, img))
		}
		body = container.NewVScroll(grid)
	}
	return container.NewBorder(p.bar, nil, nil, nil, body)
}

func (p *galleryPage) start() {
	settings, err := p.advanced.settings()
	if err != nil {
		p.m.setStatus("Advanced settings: " + err.Error())
		return
	}
	p.run(func(ctx context.Context, modelID int64, seed uint64) (string, error) {
		req := settings.Request(app.GenerateRequest{ModelID: modelID, Prompt: p.prompt.Text, Negative: p.negative.Text, Seed: seed})
		timer := newETA()
		_, err := p.m.svc.Generate(ctx, req, func(step, total int) {
			fyne.Do(func() {
				p.progress.SetValue(float64(step) / float64(total))
				p.m.setStatus(timer.describe("Step", step, total))
			})
		})
		return fmt.Sprintf("Done (seed %d).", seed), err
	})
}

func (p *galleryPage) startMix() {
	p.run(func(ctx context.Context, modelID int64, seed uint64) (string, error) {
		req := app.MixRequest{ModelID: modelID, Subjects: strings.Split(p.subjects.Text, ","), Seed: seed}
		timer := newETA()
		made, err := p.m.svc.Mix(ctx, req, func(done, total int, prompt string) {
			fyne.Do(func() {
				p.progress.SetValue(float64(done) / float64(total))
				if prompt != "" {
					status := fmt.Sprintf("Image %d of %d: %s", done+1, total, prompt)
					if left := timer.left(done, total); left > 0 {
						status += fmt.Sprintf(" · about %s left", left)
					}
					p.m.setStatus(status)
				}
			})
		})
		return fmt.Sprintf("Mixed %d image(s) (seed %d). Contact sheet… lays them out.", len(made), seed), err
	})
}

// run starts one generation job off the UI goroutine with the model, seed,
// progress bar and Cancel button every job of the page shares.
func (p *galleryPage) run(job func(ctx context.Context, modelID int64, seed uint64) (done string, err error)) {
	if p.stop != nil {
		return
	}
	modelID := p.m.models.selected()
	if modelID == 0 {
		p.m.setStatus("Add a model first (top bar).")
		return
	}
	if err := p.seed.Validate(); err != nil {
		p.m.setStatus(err.Error())
		return
	}
	seed := rand.Uint64() >> 1
	if s := strings.TrimSpace(p.seed.Text); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	ctx, stop := context.WithCancel(context.Background())
	p.stop = stop
	p.generate.Disable()
	p.mix.Disable()
	p.cancel.Enable()
	p.progress.SetValue(0)
	p.m.setStatus(fmt.Sprintf("Generating (seed %d)…", seed))
	var doneText string
	p.m.bg.run(func() error {
		var err error
		doneText, err = job(ctx, modelID, seed)
		return err
	}, func(err error) {
		stop()
		p.stop = nil
		p.generate.Enable()
		p.mix.Enable()
		p.cancel.Disable()
		switch {
		case errors.Is(err, context.Canceled):
			p.m.setStatus("Cancelled.")
		case err != nil:
			p.m.setStatus("Could not generate: " + err.Error())
		default:
			p.m.show(1)
			p.m.setStatus(doneText)
		}
	})
}

// exportSheet saves the subjects x actions contact sheet where the user says.
func (p *galleryPage) exportSheet() {
	p.m.pickThen(func() (string, error) { return p.m.picker.SaveFile("Save the contact sheet", "contact-sheet.png") },
		p.m.svc.ExportContactSheet, "Could not make the contact sheet",
		func(path string) { p.m.setStatus("Contact sheet saved to " + path) })
}

// reuse puts an image's settings back into the prompt bar ("use these
// settings again").
func (p *galleryPage) reuse(g app.GenerationInfo) {
	p.prompt.SetText(g.Prompt)
	p.negative.SetText(g.Negative)
	p.seed.SetText(strconv.FormatUint(g.Seed, 10))
	p.m.setStatus(fmt.Sprintf("Settings of image %d loaded: change the prompt or press Generate.", g.ID))
}

// export writes every gallery image, with its settings, into a chosen folder.
func (p *galleryPage) export() {
	var files []string
	p.m.pickThen(func() (string, error) { return p.m.picker.PickFolder("Export the gallery to a folder") },
		func(dir string) error {
			var err error
			files, err = p.m.svc.ExportGallery(dir)
			return err
		}, "Could not export",
		func(dir string) { p.m.setStatus(fmt.Sprintf("Exported %d image(s) to %s", len(files), dir)) })
}
