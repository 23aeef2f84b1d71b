package ui

import (
	"cmp"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
	"kata/assets"
)

// galleryPage is the matrix of subjects (rows) by trained actions (columns)
// with the images of each cell, a free prompt bar, and the job queue that
// fills them.
type galleryPage struct {
	m          *MainWindow
	matrix     app.Matrix
	items      []app.GenerationInfo // every image, newest first
	selected   map[int64]bool       // images ticked for export
	format     *widget.Select       // Export's format (exportFormatLabels)
	scroll     *container.Scroll    // the last render's, whose place the next keeps
	prompt     *shortcutEntry
	negative   *shortcutEntry
	seed       *shortcutEntry
	generate   *widget.Button
	subjects   *shortcutEntry
	variations *shortcutEntry
	mix        *widget.Button // generate every cell
	advanced   *generateForm
	options    *genOptions // sampler, schedule type, images per click, VAE, LoRA folder
	queue      *jobQueue
	bar        *fyne.Container
}

func newGalleryPage(m *MainWindow) *galleryPage {
	p := &galleryPage{m: m, selected: map[int64]bool{}}
	p.prompt = m.newEntry()
	p.prompt.SetPlaceHolder("a panda <handstand>  (Enter or Ctrl+Enter generates)")
	p.prompt.OnSubmitted = func(string) { p.start() }
	p.negative = m.newEntry()
	p.negative.SetPlaceHolder("negative prompt (optional)")
	p.seed = m.newEntry()
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
	p.queue = newJobQueue(m)
	p.queue.onResult = func(app.GenerationInfo) {
		if m.selected == 1 {
			m.show(1) // the finished image appears in its cell
		}
	}
	p.queue.onIdle = func(err error) {
		if err == nil {
			m.setStatus(p.queue.label.Text)
		}
	}
	seedBox := container.NewGridWrap(fyne.NewSize(140, p.seed.MinSize().Height), p.seed)
	export := widget.NewButtonWithIcon("Export…", theme.DownloadIcon(), p.export)
	p.format = newExportFormat(m.app.Preferences())
	row := container.NewBorder(nil, nil, nil, container.NewHBox(seedBox, p.generate), p.prompt)
	p.advanced = newGenerateForm(m, generateDefaults(m.app.Preferences()))
	p.advanced.hideSampler() // the options row has the sampler with its schedule type
	p.options = newGenOptions(m)
	advanced := widget.NewAccordion(widget.NewAccordionItem("Advanced",
		container.NewVBox(p.negative, p.options.row, p.advanced.box)))

	p.subjects = m.newEntry()
	p.subjects.SetPlaceHolder("add subjects: a panda, a robot, our mascot")
	p.subjects.OnSubmitted = func(string) { p.addSubjects() }
	addSubjects := widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), p.addSubjects)
	p.variations = m.newEntry()
	p.variations.SetText("1")
	p.mix = widget.NewButtonWithIcon("Generate all", theme.ViewRestoreIcon(), func() { p.cells(nil, nil) })
	sheet := widget.NewButtonWithIcon("Contact sheet…", theme.DocumentSaveIcon(), p.exportSheet)
	zip := widget.NewButtonWithIcon("Zip…", theme.StorageIcon(), p.exportZip)
	varBox := container.NewGridWrap(fyne.NewSize(60, p.variations.MinSize().Height), p.variations)
	mixRow := container.NewBorder(nil, nil, nil,
		container.NewHBox(addSubjects, widget.NewLabel("Variations"), varBox, p.mix), p.subjects)
	remove := widget.NewButtonWithIcon("Delete…", theme.DeleteIcon(), p.deleteChosen)
	exportRow := container.NewHBox(export, p.format, zip, sheet, widget.NewSeparator(), remove)
	p.bar = container.NewVBox(row, advanced, mixRow, exportRow, p.queue.box)
	return p
}

// load fetches the matrix with thumbnails; it runs off the UI goroutine.
func (p *galleryPage) load() error {
	mx, err := p.m.svc.Matrix()
	if err != nil {
		return err
	}
	items := slices.Clone(mx.Loose)
	for _, gens := range mx.Cells {
		items = append(items, gens...)
	}
	slices.SortFunc(items, func(a, b app.GenerationInfo) int { return cmp.Compare(b.ID, a.ID) })
	onUI(func() { p.matrix, p.items = mx, items })
	return nil
}

func (p *galleryPage) render() fyne.CanvasObject {
	mx := p.matrix
	var sections []fyne.CanvasObject
	switch {
	case len(mx.Actions) == 0 && len(p.items) == 0:
		sections = append(sections, emptyState(theme.GridIcon(), "Nothing generated yet",
			"Train an action first (Actions page), then add subjects above:\n"+
				"\"a panda\", \"our mascot\". Each row is a subject, each column an action."))
	case len(mx.Actions) == 0:
		sections = append(sections, widget.NewLabel("No trained action yet: the matrix fills in once one is trained."))
	case len(mx.Subjects) == 0:
		sections = append(sections, widget.NewLabel("Add a subject above (\"a panda\") to get a row for each."))
	default:
		sections = append(sections, p.matrixGrid())
	}
	if len(mx.Loose) > 0 {
		grid := container.NewGridWrap(fyne.NewSize(170, 230))
		for _, g := range mx.Loose {
			grid.Add(p.tile(g))
		}
		sections = append(sections, widget.NewLabelWithStyle("Other images", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), grid)
	}
	p.scroll = rescroll(p.scroll, container.NewVBox(sections...))
	return container.NewBorder(p.bar, nil, nil, nil, p.scroll)
}

// matrixGrid lays out the header (actions, each with Generate column), then
// one row per subject (Generate row, remove) with its cells.
func (p *galleryPage) matrixGrid() fyne.CanvasObject {
	mx := p.matrix
	grid := container.New(newMatrixLayout(1 + len(mx.Actions)))
	grid.Add(widget.NewLabel(""))
	for _, a := range mx.Actions {
		a := a
		grid.Add(container.NewVBox(widget.NewLabelWithStyle(a.Name+" "+a.Trigger, fyne.TextAlignCenter, fyne.TextStyle{Bold: true}),
			widget.NewButton("Generate column", func() { p.cells(nil, []int64{a.ID}) })))
	}
	for _, s := range mx.Subjects {
		s := s
		remove := widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { p.removeSubject(s.ID) })
		grid.Add(container.NewVBox(widget.NewLabelWithStyle(s.Name, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
			container.NewHBox(widget.NewButton("Generate row", func() { p.cells([]int64{s.ID}, nil) }), remove)))
		for _, a := range mx.Actions {
			a := a
			cell := container.NewHBox()
			for _, g := range mx.Cells[app.Cell{SubjectID: s.ID, ActionID: a.ID}] {
				cell.Add(container.NewGridWrap(fyne.NewSize(150, 210), p.tile(g)))
			}
			gen := widget.NewButtonWithIcon("", theme.MediaPlayIcon(), func() { p.cells([]int64{s.ID}, []int64{a.ID}) })
			grid.Add(container.NewBorder(nil, nil, gen, nil, container.NewHScroll(cell)))
		}
	}
	return grid
}

// tile is one image: click opens it large; under it the seed, a favourite
// star and an export tick.
func (p *galleryPage) tile(g app.GenerationInfo) fyne.CanvasObject {
	img := newThumb(g.Thumb, func() { p.open(g) })
	seed := widget.NewLabel(fmt.Sprintf("seed %d", g.Seed))
	seed.Truncation = fyne.TextTruncateEllipsis
	var star fyne.Resource = theme.NewThemedResource(fyne.NewStaticResource("star.svg", assets.Star))
	if g.Favourite {
		star = theme.NewPrimaryThemedResource(fyne.NewStaticResource("star-filled.svg", assets.StarFilled))
	}
	fav := widget.NewButtonWithIcon("", star, func() { p.setFavourite(g.ID, !g.Favourite) })
	fav.Importance = widget.LowImportance
	tick := widget.NewCheck("", func(on bool) { p.selected[g.ID] = on })
	tick.Checked = p.selected[g.ID]
	return container.NewBorder(nil, container.NewBorder(nil, nil, tick, fav, seed), nil, nil, img)
}

// open shows an image large with its settings, and offers to regenerate it
// with a new seed or to reuse its settings; the file is decoded off the UI
// goroutine.
func (p *galleryPage) open(g app.GenerationInfo) {
	var img image.Image
	p.m.bg.run(func() error {
		var err error
		img, err = p.m.svc.GenerationImage(g.ImagePath)
		return err
	}, func(err error) {
		if err != nil {
			p.m.setStatus("Could not open the image: " + err.Error())
			return
		}
		p.showLarge(g, img)
	})
}

// showLarge is open's dialog of g, drawn as img.
func (p *galleryPage) showLarge(g app.GenerationInfo, img image.Image) {
	big := canvas.NewImageFromImage(img)
	big.FillMode = canvas.ImageFillContain
	big.SetMinSize(fyne.NewSize(512, 512))
	settings := widget.NewLabel(settingsText(g))
	settings.Wrapping = fyne.TextWrapWord
	var d dialog.Dialog
	again := widget.NewButtonWithIcon("Regenerate with a new seed", theme.ViewRefreshIcon(), func() {
		d.Hide()
		if modelID := p.m.models.selected(); modelID != 0 {
			p.queue.add(regenerate(g, modelID, rand.Uint64()>>1))
		} else {
			p.m.setStatus("Add a model first (top bar or Settings).")
		}
	})
	reuse := widget.NewButtonWithIcon("Use these settings", theme.ContentCopyIcon(), func() { d.Hide(); p.reuse(g) })
	body := container.NewBorder(nil, container.NewVBox(settings, container.NewHBox(again, reuse)), nil, nil, big)
	d = dialog.NewCustom(g.Prompt, "Close", body, p.m.win)
	d.Show()
}

// settingsText is an image's settings as the large view lists them.
func settingsText(g app.GenerationInfo) string {
	s := fmt.Sprintf("Prompt: %s\nSeed: %d · Sampler: %s · Steps: %d · CFG: %g · Size: %dx%d",
		g.Prompt, g.Seed, g.Sampler, g.Steps, g.CFG, g.Width, g.Height)
	if g.Negative != "" {
		s += "\nNegative prompt: " + g.Negative
	}
	return s
}

// regenerate is the request that makes g again on modelID with another seed.
func regenerate(g app.GenerationInfo, modelID int64, seed uint64) app.GenerateRequest {
	return app.GenerateRequest{ModelID: modelID, Prompt: g.Prompt, Negative: g.Negative, Seed: seed, Sampler: g.Sampler,
		Steps: g.Steps, CFG: g.CFG, Width: g.Width, Height: g.Height, SubjectID: g.SubjectID, ActionID: g.ActionID}
}

// request is the base request of the page's settings: the model, the
// Advanced row and the negative prompt; ok is false after reporting why not.
func (p *galleryPage) request() (app.GenerateRequest, bool) {
	modelID := p.m.models.selected()
	if modelID == 0 {
		p.m.setStatus("Add a model first (top bar or Settings).")
		return app.GenerateRequest{}, false
	}
	settings, err := p.advanced.settings()
	if err != nil {
		p.m.setStatus("Advanced settings: " + err.Error())
		return app.GenerateRequest{}, false
	}
	return p.options.request(settings.Request(app.GenerateRequest{ModelID: modelID, Negative: p.negative.Text})), true
}

// seedValue is the seed box's number, or a random one when it is empty.
func (p *galleryPage) seedValue() (uint64, bool) {
	if err := p.seed.Validate(); err != nil {
		p.m.setStatus(err.Error())
		return 0, false
	}
	if s := strings.TrimSpace(p.seed.Text); s != "" {
		v, _ := strconv.ParseUint(s, 10, 64)
		return v, true
	}
	return rand.Uint64() >> 1, true
}

// start generates the free prompt (Ctrl+Enter).
func (p *galleryPage) start() {
	r, ok := p.request()
	if !ok {
		return
	}
	seed, ok := p.seedValue()
	if !ok {
		return
	}
	if strings.TrimSpace(p.prompt.Text) == "" {
		p.m.setStatus("Write a prompt first, e.g. \"a panda <handstand>\".")
		return
	}
	// N images per click with seeds seed..seed+N-1, as AUTOMATIC1111's batch count.
	n := p.options.count()
	reqs := make([]app.GenerateRequest, n)
	for i := range reqs {
		reqs[i] = r
		reqs[i].Prompt, reqs[i].Seed = p.prompt.Text, seed+uint64(i)
	}
	p.queue.add(reqs...)
}

// cells queues the images of the chosen rows and columns (nil: all).
func (p *galleryPage) cells(subjectIDs, actionIDs []int64) {
	base, ok := p.request()
	if !ok {
		return
	}
	seed, ok := p.seedValue()
	if !ok {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(p.variations.Text))
	if err != nil {
		p.m.setStatus("Variations: a whole number from 1 to 16")
		return
	}
	reqs, err := app.CellRequests(p.matrix, subjectIDs, actionIDs, n, seed, base)
	if err != nil {
		p.m.setStatus(err.Error())
		return
	}
	p.queue.add(reqs...)
}

func (p *galleryPage) addSubjects() {
	text := p.subjects.Text
	p.m.bg.run(func() error {
		_, err := p.m.svc.AddSubjects(text)
		return err
	}, func(err error) {
		if err != nil {
			p.m.setStatus("Could not add the subjects: " + err.Error())
			return
		}
		p.subjects.SetText("")
		p.m.show(1)
	})
}

func (p *galleryPage) removeSubject(id int64) {
	p.m.bg.run(func() error { return p.m.svc.RemoveSubject(id) }, func(err error) {
		if err != nil {
			p.m.setStatus("Could not remove the subject: " + err.Error())
		}
		p.m.show(1)
	})
}

func (p *galleryPage) setFavourite(id int64, fav bool) {
	p.m.bg.run(func() error { return p.m.svc.SetFavourite(id, fav) }, func(err error) {
		if err != nil {
			p.m.setStatus("Could not mark the favourite: " + err.Error())
		}
		p.m.show(1)
	})
}

// reuse puts every setting an image records back into the prompt bar
// ("use these settings again"): prompt (with its LoRA tags), negative prompt,
// seed, sampler and schedule type, steps, CFG and size, read from the
// image's file (app.ReadImageSettings) off the UI goroutine. An image whose
// file lost its settings falls back to the gallery's record of it.
func (p *galleryPage) reuse(g app.GenerationInfo) {
	var s app.ImageSettings
	p.m.bg.run(func() error {
		var err error
		s, err = app.ReadImageSettings(g.ImagePath)
		return err
	}, func(err error) {
		from := fmt.Sprintf("image %d", g.ID)
		if err != nil {
			s = app.ImageSettings{Prompt: g.Prompt, Negative: g.Negative, Seed: g.Seed, HasSeed: true,
				Steps: g.Steps, CFG: g.CFG, Width: g.Width, Height: g.Height,
				Ignored: []string{"the sampler (the image file's settings could not be read: " + err.Error() + ")"}}
		}
		p.useSettings(s, from)
	})
}

// chosen are the ticked images, nil meaning the favourites.
func (p *galleryPage) chosen() []int64 {
	var ids []int64
	for _, g := range p.items {
		if p.selected[g.ID] {
			ids = append(ids, g.ID)
		}
	}
	return ids
}

// exportSheet saves the subjects x actions contact sheet where the user says.
func (p *galleryPage) exportSheet() {
	p.m.pickThen(func() (string, error) { return p.m.picker.SaveFile("Save the contact sheet", "contact-sheet.png") },
		p.m.svc.ExportContactSheet, "Could not make the contact sheet",
		func(path string) { p.m.setStatus("Contact sheet saved to " + path) })
}

// exportFormatLabels name app.ExportFormats in the Export menu, in order.
var exportFormatLabels = []string{"PNG", "JPEG"}

// newExportFormat is the Export format menu, on the remembered format.
func newExportFormat(prefs fyne.Preferences) *widget.Select {
	s := widget.NewSelect(exportFormatLabels, nil)
	i := slices.Index(app.ExportFormats, prefs.StringWithFallback(prefExportFormat, app.ExportFormats[0]))
	s.SetSelectedIndex(max(i, 0))
	s.OnChanged = func(string) { prefs.SetString(prefExportFormat, app.ExportFormats[s.SelectedIndex()]) }
	return s
}

// export writes the ticked images (else the favourites, else everything)
// in the chosen format into a chosen folder (Ctrl+E).
func (p *galleryPage) export() {
	ids := p.chosen()
	format := app.ExportFormats[max(p.format.SelectedIndex(), 0)]
	var files []string
	p.m.pickThen(func() (string, error) { return p.m.picker.PickFolder("Export images to a folder") },
		func(dir string) error {
			var err error
			if len(ids) == 0 && !p.hasFavourite() {
				files, err = p.m.svc.ExportGallery(dir, format)
			} else {
				files, err = p.m.svc.ExportImages(ids, dir, format)
			}
			return err
		}, "Could not export",
		func(dir string) { p.m.setStatus(fmt.Sprintf("Exported %d image(s) to %s", len(files), dir)) })
}

func (p *galleryPage) hasFavourite() bool {
	for _, g := range p.items {
		if g.Favourite {
			return true
		}
	}
	return false
}

// exportZip writes the ticked images (else the favourites) with their
// identifiers into a zip file.
func (p *galleryPage) exportZip() {
	ids := p.chosen()
	p.m.pickThen(func() (string, error) { return p.m.picker.SaveFile("Save a zip of the images", "kata-images.zip") },
		func(path string) error { return p.m.svc.ExportZip(ids, path) }, "Could not make the zip",
		func(path string) { p.m.setStatus("Zip saved to " + path) })
}
