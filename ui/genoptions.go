package ui

import (
	"fmt"
	"path/filepath"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"kata/app"
)

// VAE menu entries besides a chosen VAE's name.
const (
	vaeOwn    = "Checkpoint's VAE"
	vaeFile   = "VAE file…"
	vaeFolder = "VAE folder…"
)

// Preference keys remembering the VAE and LoRA folder choices.
const (
	prefVAE     = "vae"
	prefLoRADir = "loraDir"
)

// batchCounts are the choices of the images-per-click menu.
var batchCounts = []string{"1", "2", "4", "8"}

// genOptions is the gallery's row of generation settings: sampler and
// schedule type (the schedule menu only for samplers that take one),
// images per click, the VAE and the LoRA folder (both remembered in the
// app's preferences).
type genOptions struct {
	m        *MainWindow
	samplers []app.SamplerChoice
	sampler  *widget.Select
	schedule *widget.Select
	batch    *widget.Select
	vae      *widget.Select
	current  string // the VAE menu's entry of the VAE in use
	loraDir  *widget.Button
	row      *fyne.Container
}

func newGenOptions(m *MainWindow) *genOptions {
	o := &genOptions{m: m, samplers: app.SamplerChoices()}
	var labels []string
	def := ""
	for _, s := range o.samplers {
		labels = append(labels, s.Label)
		if s.Default {
			def = s.Label
		}
	}
	o.schedule = widget.NewSelect(app.ScheduleTypeLabels(), nil)
	o.schedule.SetSelected(app.ScheduleTypeLabels()[0])
	o.sampler = widget.NewSelect(labels, func(string) { o.showSchedule() })
	o.sampler.SetSelected(def)
	o.batch = widget.NewSelect(batchCounts, nil)
	o.batch.SetSelected(batchCounts[0])
	o.vae = widget.NewSelect([]string{vaeOwn, vaeFile, vaeFolder}, nil)
	o.vae.SetSelected(vaeOwn)
	o.current = vaeOwn
	prefs := m.app.Preferences()
	if v := prefs.String(prefVAE); v != "" {
		if err := m.svc.SetVAE(v); err == nil {
			o.current = filepath.Base(v)
			o.vae.SetOptions([]string{o.current, vaeOwn, vaeFile, vaeFolder})
			o.vae.SetSelected(o.current)
		} else {
			prefs.SetString(prefVAE, "") // the VAE is gone: back to each checkpoint's own
		}
	}
	if d := prefs.String(prefLoRADir); d != "" {
		m.svc.SetLoRADir(d)
	}
	o.vae.OnChanged = o.chooseVAE
	o.loraDir = widget.NewButtonWithIcon("LoRA folder…", theme.FolderOpenIcon(), o.chooseLoRADir)
	o.row = container.NewHBox(widget.NewLabel("Sampler"), o.sampler, o.schedule,
		widget.NewLabel("Images"), o.batch, o.vae, o.loraDir)
	o.showSchedule()
	return o
}

// showSchedule shows the schedule menu only for samplers that take a
// schedule type, and resets it to Automatic otherwise.
func (o *genOptions) showSchedule() {
	if o.schedule == nil {
		return
	}
	for _, s := range o.samplers {
		if s.Label == o.sampler.Selected {
			if s.Schedules {
				o.schedule.Show()
			} else {
				o.schedule.SetSelected(app.ScheduleTypeLabels()[0])
				o.schedule.Hide()
			}
		}
	}
}

// request fills the sampler and schedule type of r.
func (o *genOptions) request(r app.GenerateRequest) app.GenerateRequest {
	r.Sampler, r.ScheduleType = o.sampler.Selected, o.schedule.Selected
	return r
}

// count is the number of images per click.
func (o *genOptions) count() int {
	n, err := strconv.Atoi(o.batch.Selected)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// chooseVAE handles the VAE menu: the checkpoint's own, or a file or
// folder picked with the native dialog (the menu then shows its name).
func (o *genOptions) chooseVAE(choice string) {
	var pick func() (string, error)
	switch choice {
	case vaeOwn:
		if err := o.m.svc.SetVAE(""); err != nil {
			o.m.setStatus("Could not change the VAE: " + err.Error())
			return
		}
		o.m.app.Preferences().SetString(prefVAE, "")
		if o.current != vaeOwn {
			o.current = vaeOwn
			o.vae.SetOptions([]string{vaeOwn, vaeFile, vaeFolder})
			o.m.setStatus("Generations use each checkpoint's own VAE.")
		}
		return
	case vaeFile:
		pick = func() (string, error) {
			return o.m.picker.PickFile("Choose a VAE", "VAE (.safetensors)", "safetensors")
		}
	case vaeFolder:
		pick = func() (string, error) { return o.m.picker.PickFolder("Choose a diffusers vae folder") }
	default:
		return // a chosen VAE's own entry
	}
	var path string
	o.m.bg.run(func() error {
		var err error
		if path, err = pick(); err != nil || path == "" {
			return err
		}
		return o.m.svc.SetVAE(path)
	}, func(err error) {
		if err != nil {
			o.m.setStatus("Could not use the VAE: " + err.Error())
		}
		if err != nil || path == "" {
			o.vae.SetSelected(o.current) // back to the VAE in use
			return
		}
		o.m.app.Preferences().SetString(prefVAE, o.m.svc.VAE())
		o.current = filepath.Base(path)
		o.vae.SetOptions([]string{o.current, vaeOwn, vaeFile, vaeFolder})
		o.vae.SetSelected(o.current)
		o.m.setStatus(fmt.Sprintf("VAE %s: the model reloads with it at the next generation.", o.current))
	})
}

// chooseLoRADir asks for the folder <lora:name:w> tags are found in.
func (o *genOptions) chooseLoRADir() {
	o.m.pickThen(func() (string, error) { return o.m.picker.PickFolder("Choose the LoRA folder") },
		func(dir string) error { o.m.svc.SetLoRADir(dir); return nil }, "Could not choose the LoRA folder",
		func(dir string) {
			if dir != "" {
				o.m.app.Preferences().SetString(prefLoRADir, dir)
				o.m.setStatus("LoRA folder " + dir + ": write <lora:name:0.8> in the prompt.")
			}
		})
}
