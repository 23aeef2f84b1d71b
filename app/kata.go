package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"sync"
	"time"

	"kata/model/placeholder"
	"kata/store"
)

// Kata is one open library and the use cases the window offers on it. Its
// methods are safe to call from any goroutine; each one blocks for disk work,
// so the window calls them off the UI goroutine.
type Kata struct {
	lib *store.Library

	// mu serialises model work: loading, training and generating share
	// the one loaded engine.
	mu  sync.Mutex
	eng *engine

	// choicesMu guards the window's choices, apart from mu so that making
	// one never waits for a training run or a generation.
	choicesMu sync.Mutex
	backend   string // model/backend setting; "" for $KATA_BACKEND or automatic
	inUse     string // the loaded model's backend.Selection, for BackendInUse
	// vae and loraDir are the VAE and LoRA folder choices (SetVAE,
	// SetLoRADir), used from the next generation on.
	vae, loraDir string

	// closing is cancelled by Close, so that running work stops (training
	// checkpoints first) instead of holding the window open.
	closing context.Context
	stopAll context.CancelFunc
}

// opTimeout bounds the library queries behind one window action.
const opTimeout = 30 * time.Second

// Open opens (creating if needed) the library in dir.
func Open(dir string) (*Kata, error) {
	lib, err := store.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open library %s: %w", dir, err)
	}
	closing, stopAll := context.WithCancel(context.Background())
	return &Kata{lib: lib, closing: closing, stopAll: stopAll}, nil
}

// OpenDefault opens the library at store.DefaultDir ($KATA_LIBRARY or the
// OS data directory).
func OpenDefault() (*Kata, error) {
	dir, err := store.DefaultDir()
	if err != nil {
		return nil, err
	}
	return Open(dir)
}

// Close stops running work (a training run saves its checkpoint), frees the
// loaded model and closes the library.
func (k *Kata) Close() error {
	k.stopAll()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.eng != nil {
		k.eng.close()
		k.eng = nil
	}
	return k.lib.Close()
}

// LibraryDir is the folder of the open library.
func (k *Kata) LibraryDir() string { return k.lib.Dir() }

// Library is the open library, for commands that work on it directly.
func (k *Kata) Library() *store.Library { return k.lib }

// untilClose derives a context that is also cancelled when Kata closes.
func (k *Kata) untilClose(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(k.closing, cancel)
	return ctx, func() { stop(); cancel() }
}

func opContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), opTimeout)
}

// Actions lists the library's actions with their photo counts.
func (k *Kata) Actions() ([]ActionInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	actions, err := k.lib.Actions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ActionInfo, 0, len(actions))
	for _, a := range actions {
		info, err := k.actionInfo(ctx, a)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// CreateAction adds an action called name, or "name 2", "name 3"... when the
// name is taken, so dropping photos twice never fails on a name clash.
func (k *Kata) CreateAction(name string) (ActionInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	for n := 1; n < 1000; n++ {
		try := name
		if n > 1 {
			try = fmt.Sprintf("%s %d", name, n)
		}
		a, err := k.lib.CreateAction(ctx, store.Action{Name: try})
		if errors.Is(err, store.ErrDuplicate) {
			continue
		}
		if err != nil {
			return ActionInfo{}, err
		}
		return ActionInfo{ID: a.ID, Name: a.Name, Trigger: a.Trigger}, nil
	}
	return ActionInfo{}, fmt.Errorf("create action %q: every numbered name is taken", name)
}

// Exemplars lists the photos of an action.
func (k *Kata) Exemplars(actionID int64) ([]ExemplarInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	ex, err := k.lib.Exemplars(ctx, actionID)
	if err != nil {
		return nil, err
	}
	out := make([]ExemplarInfo, len(ex))
	for i, e := range ex {
		thumb, err := k.lib.Thumbnail(e.Image, ThumbSize)
		if err != nil {
			return nil, err
		}
		out[i] = ExemplarInfo{ID: e.ID, ImagePath: k.lib.BlobPath(e.Image), Thumb: thumb, Caption: e.Caption}
	}
	return out, nil
}

// Generations lists the gallery, newest first.
func (k *Kata) Generations() ([]GenerationInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	gens, err := k.lib.Generations(ctx, store.GenerationFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]GenerationInfo, len(gens))
	for i, g := range gens {
		thumb, err := k.lib.Thumbnail(g.Image, ThumbSize)
		if err != nil {
			return nil, err
		}
		out[i] = generationInfo(k.lib, g)
		out[i].Thumb = thumb
	}
	return out, nil
}

// importTimeout bounds one drop or dialog import; a folder of photos decodes
// in seconds, so this only stops a stuck disk from hanging the window forever.
const importTimeout = 10 * time.Minute

// AddPhotos imports image files and folders into an action. Files that cannot
// be read are reported one by one in the result; the rest are imported.
func (k *Kata) AddPhotos(actionID int64, paths []string) (ImportReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
	defer cancel()
	a, err := k.lib.Action(ctx, actionID)
	if err != nil {
		return ImportReport{}, err
	}
	res, err := k.lib.Import(ctx, paths, store.ImportOptions{Action: a.Name})
	report := ImportReport{}
	if res != nil {
		report.Added = len(res.Added)
		report.Duplicates = len(res.Duplicates)
		for _, f := range res.Failed {
			report.Failed = append(report.Failed, FileError{Path: f.Path, Err: f.Err})
		}
	}
	return report, err
}

// GenerationImage decodes a gallery image's file (GenerationInfo.ImagePath)
// at full size, for the large view; a file that is missing, damaged or
// larger than store.DefaultLimits allows gives an error.
func (k *Kata) GenerationImage(path string) (image.Image, error) {
	return store.DecodeFile(path, store.Limits{MaxBytes: store.DefaultLimits.MaxBytes, MaxPixels: store.DefaultLimits.MaxPixels})
}

// ExportGallery writes every generated image into dir in format (one of
// ExportFormats: a PNG carries its settings as AUTOMATIC1111 "parameters"
// and Kata's own chunk, a JPEG in its comment) and returns the files written.
func (k *Kata) ExportGallery(dir, format string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
	defer cancel()
	gens, err := k.lib.Generations(ctx, store.GenerationFilter{})
	if err != nil {
		return nil, err
	}
	if len(gens) == 0 {
		return nil, errors.New("the gallery is empty: generate something first")
	}
	return k.lib.ExportImages(ctx, dir, gens, format, exportQuality)
}

// RenameAction renames an action. Its trigger follows the name until the
// action is first trained; after that the trigger stays, because trained
// identifier files carry it.
func (k *Kata) RenameAction(actionID int64, name string) (ActionInfo, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return ActionInfo{}, errors.New("an action needs a name")
	}
	ctx, cancel := opContext()
	defer cancel()
	a, err := k.lib.Action(ctx, actionID)
	if err != nil {
		return ActionInfo{}, err
	}
	ids, err := k.lib.Identifiers(ctx, actionID)
	if err != nil {
		return ActionInfo{}, err
	}
	oldTrigger := a.Trigger
	a.Name = name
	if len(ids) == 0 {
		if a.Trigger, err = placeholder.For(name); err != nil {
			return ActionInfo{}, err
		}
	}
	if err := k.lib.UpdateAction(ctx, a); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return ActionInfo{}, fmt.Errorf("there is already an action called %q", name)
		}
		return ActionInfo{}, err
	}
	if a.Trigger != oldTrigger {
		// Captions name the action by its trigger.
		ex, err := k.lib.Exemplars(ctx, actionID)
		if err != nil {
			return ActionInfo{}, err
		}
		for _, e := range ex {
			e.Caption = strings.ReplaceAll(e.Caption, oldTrigger, a.Trigger)
			if err := k.lib.UpdateExemplar(ctx, e); err != nil {
				return ActionInfo{}, err
			}
		}
	}
	return k.actionInfo(ctx, a)
}
