package ui

import (
	"context"
	"image"

	"kata/app"
)

// Services are the use cases the window calls; *app.Kata implements them.
// Every method may block on disk or compute, so views call them off the UI
// goroutine.
type Services interface {
	// Actions lists the library's actions, newest first.
	Actions() ([]app.ActionInfo, error)
	// CreateAction adds an action named name; its trigger is derived from it.
	CreateAction(name string) (app.ActionInfo, error)
	// RenameAction renames an action (and its trigger, until it is trained).
	RenameAction(actionID int64, name string) (app.ActionInfo, error)
	// Exemplars lists the photos of one action.
	Exemplars(actionID int64) ([]app.ExemplarInfo, error)
	// AddPhotos imports image files or folders as exemplars of an action.
	AddPhotos(actionID int64, paths []string) (app.ImportReport, error)
	// ImportDropped imports dropped or picked paths: a folder becomes the
	// action named after it, loose files go to actionID (0: a new action).
	ImportDropped(actionID int64, paths []string) (app.ImportReport, error)
	// AddSample imports one of app.SampleActions as an action.
	AddSample(name string) (app.ImportReport, error)
	// SetCaption changes an exemplar's caption ({} or the trigger marks
	// the action).
	SetCaption(exemplarID int64, caption string) (app.ExemplarInfo, error)
	// RemoveExemplar removes a photo from its action.
	RemoveExemplar(exemplarID int64) error
	// RemoveAction deletes an action with its photos and identifiers.
	RemoveAction(actionID int64) error
	// RemoveGenerations deletes images from the gallery.
	RemoveGenerations(ids []int64) error
	// Generations lists the gallery, newest first.
	Generations() ([]app.GenerationInfo, error)

	// Models lists the base models added so far.
	Models() ([]app.ModelInfo, error)
	// AddBuiltinModel records the model Kata ships, the first time; ok is
	// false when this build has none.
	AddBuiltinModel(progress func(done, total int)) (info app.ModelInfo, ok bool, err error)
	// SetBackend chooses the compute backend (an app.BackendChoices
	// Setting) and describes what it resolves to.
	SetBackend(setting string) (string, error)
	// BackendInUse describes the backend the loaded model runs on, e.g.
	// "go (pure Go, AVX-512 kernels) (auto-detected)", ending in
	// "; WARNING: " and what failed when a GPU fell back to the CPU; ""
	// before a model is loaded.
	BackendInUse() string
	// LibraryDir is the open library's folder.
	LibraryDir() string
	// AddModel loads and records a Stable Diffusion 1.x model.
	AddModel(path string, progress func(done, total int)) (app.ModelInfo, error)
	// Train learns an identifier for an action; cancelling ctx pauses it and
	// the next call with the same settings resumes.
	Train(ctx context.Context, actionID, modelID int64, s app.TrainSettings, progress func(app.TrainProgress)) (app.ActionInfo, error)
	// ExportGallery writes the gallery's images with their settings into
	// dir as "png" or "jpeg".
	ExportGallery(dir, format string) ([]string, error)
	// GenerationImage decodes a gallery image's file at full size.
	GenerationImage(path string) (image.Image, error)
	// Mix makes an image of every subject doing every trained action.
	Mix(ctx context.Context, r app.MixRequest, progress func(done, total int, prompt string)) ([]app.GenerationInfo, error)
	// Matrix reads the gallery as subjects x trained actions.
	Matrix() (app.Matrix, error)
	// AddSubjects adds matrix rows for comma-separated subject texts.
	AddSubjects(text string) ([]app.SubjectInfo, error)
	// RemoveSubject removes a matrix row (its images stay).
	RemoveSubject(subjectID int64) error
	// SetFavourite marks or unmarks an image.
	SetFavourite(generationID int64, fav bool) error
	// ExportImages writes images (the favourites when ids is empty) into
	// dir as "png" or "jpeg".
	ExportImages(ids []int64, dir, format string) ([]string, error)
	// ExportZip writes images (the favourites when ids is empty) and their
	// identifiers into a zip at path.
	ExportZip(ids []int64, path string) error
	// ExportIdentifier writes an action's newest identifier into dir.
	ExportIdentifier(actionID int64, dir string) (string, error)
	// ExportContactSheet writes the subjects x actions grid as a PNG.
	ExportContactSheet(path string) error
	// GenerateSeeds makes one image of r per seed (in batches) and adds
	// them to the gallery.
	GenerateSeeds(ctx context.Context, r app.GenerateRequest, seeds []uint64, progress func(step, total int)) ([]app.GenerationInfo, error)
	// SetVAE chooses the VAE of the next generations (a file or a diffusers
	// vae folder; "" for the checkpoint's own); VAE returns the choice.
	SetVAE(path string) error
	VAE() string
	// SetLoRADir chooses where <lora:name:w> tags find their files;
	// LoRAFolder returns the folder in use ("" for none).
	SetLoRADir(dir string)
	LoRAFolder() string
}
