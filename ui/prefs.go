package ui

import (
	"fyne.io/fyne/v2"

	"kata/app"
)

// Preference keys (Fyne preferences, stored under the app's ID).
const (
	prefBackend = "backend"     // an app.BackendChoices Setting
	PrefLibrary = "library"     // library folder chosen in Settings; main opens it at start
	prefSampler = "gen.sampler" // app.GenerateDefaults, field by field
	prefSteps   = "gen.steps"
	prefCFG     = "gen.cfg"
	prefSize    = "gen.size"
	// prefExportFormat is the gallery's Export format, one of app.ExportFormats.
	prefExportFormat = "export.format"
)

// generateDefaults reads the remembered generation defaults; any that is
// missing or no longer valid falls back to app.DefaultGenerateSettings.
func generateDefaults(p fyne.Preferences) app.GenerateDefaults {
	def := app.DefaultGenerateSettings
	d := app.GenerateDefaults{
		Sampler: p.StringWithFallback(prefSampler, def.Sampler),
		Steps:   p.IntWithFallback(prefSteps, def.Steps),
		CFG:     p.FloatWithFallback(prefCFG, def.CFG),
		Size:    p.IntWithFallback(prefSize, def.Size),
	}
	if d.Validate() != nil {
		return def
	}
	return d
}

// saveGenerateDefaults remembers d, which must be valid.
func saveGenerateDefaults(p fyne.Preferences, d app.GenerateDefaults) {
	p.SetString(prefSampler, d.Sampler)
	p.SetInt(prefSteps, d.Steps)
	p.SetFloat(prefCFG, d.CFG)
	p.SetInt(prefSize, d.Size)
}
