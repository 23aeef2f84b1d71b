package app

import (
	"image"
	"strings"

	"kata/store/actionfolder"
)

// ActionInfo is an action as the window lists it.
type ActionInfo struct {
	ID        int64
	Name      string
	Trigger   string // placeholder token, e.g. "<handstand>"
	Exemplars int
	// Identifier describes the newest trained identifier ("ADI, 500 steps"),
	// empty when the action has not been trained yet.
	Identifier string
	// Paused is a training run that stopped early (cancelled, or Kata was
	// closed or killed) and can resume; nil when there is none.
	Paused *PausedRun
}

// ExemplarInfo is one photo of an action.
type ExemplarInfo struct {
	ID        int64
	ImagePath string      // content-addressed file in the library
	Thumb     image.Image // at most ThumbSize on a side
	Caption   string
}

// ThumbSize is the side of the thumbnails the window shows.
const ThumbSize = 256

// FileError is an input file that could not be used, with the reason.
type FileError struct {
	Path string
	Err  error
}

// ImportReport says what an import did: files added, duplicates skipped, and
// one error per file that could not be read; the rest imports regardless.
type ImportReport struct {
	Added int // pictures
	// Identifiers counts the identifier files added (ImportIdentifier);
	// one already stored counts in Duplicates.
	Identifiers int
	Duplicates  int
	Failed      []FileError
	// Actions received the files (ImportDropped fills it).
	Actions []ActionInfo
}

// GenerationInfo is one generated image in the gallery.
type GenerationInfo struct {
	ID        int64
	ImagePath string
	Thumb     image.Image // at most ThumbSize on a side
	Prompt    string
	Negative  string
	Seed      uint64
	Favourite bool
	// The rest of the settings, for "open large" and "use settings again".
	Sampler             string // AUTOMATIC1111 name
	Steps               int
	CFG                 float64
	Width, Height       int
	SubjectID, ActionID int64 // the matrix cell; 0 for none
	// Warnings are what the generation ignored (extra-network tags other
	// than <lora:...>, LoRA layers that match no weight), for the status line.
	Warnings []string
}

// PictureExtensions are the picture formats the library imports and training
// reads, without the dot ("png", "jpg", ...), for file dialogs' filters.
func PictureExtensions() []string {
	out := make([]string, len(actionfolder.Exts))
	for i, e := range actionfolder.Exts {
		out[i] = strings.TrimPrefix(e, ".")
	}
	return out
}
