package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"time"

	"kata/model/adi"
	"kata/model/backend"
	"kata/model/placeholder"
	"kata/store"
	"kata/store/contenthash"
)

// DefaultTrainSteps is the step count the window offers for a training run.
const DefaultTrainSteps = adi.DefaultSteps

// TrainPreviewPrompt is the prompt of the window's training previews, with
// placeholder.Slot where the action's trigger goes: a subject unlike the
// photos', so that a preview shows the action rather than the people in them.
const TrainPreviewPrompt = "a robot " + placeholder.Slot

// DefaultPreviews is how many previews a run draws when
// TrainSettings.PreviewEvery is 0: one every Steps/DefaultPreviews steps.
const DefaultPreviews = 5

// TrainSettings are the choices the window offers for a training run.
type TrainSettings struct {
	Method string // "adi" (default), "p+" or "ti"
	Steps  int    // default adi.DefaultSteps
	Seed   uint64
	LR     float64 // AdamW learning rate; 0 for the method's default (5e-3 layer-wise)
	Beta   float64 // ADI's mask quantile in (0, 1]; 0 for the default 0.5
	// ContrastPhotos are files or folders of the user's own contrast photos
	// (same scene, another action); nil to synthesise them.
	ContrastPhotos []string
	// PreviewEvery draws TrainPreviewPrompt with the identifier so far every
	// that many steps; 0 for every Steps/DefaultPreviews, -1 for never.
	// Previews change nothing in the result, so a run resumes whatever it is.
	PreviewEvery int
}

// Validate names what is wrong with s.
func (s TrainSettings) Validate() error {
	var errs []error
	if _, err := adi.ParseMethod(firstNonEmpty(s.Method, "adi")); err != nil {
		errs = append(errs, err)
	}
	if s.Steps < 0 || s.Steps > 100000 {
		errs = append(errs, fmt.Errorf("steps %d: from 1 to 100000", s.Steps))
	}
	if s.LR < 0 || s.LR > 1 || s.LR != s.LR {
		errs = append(errs, fmt.Errorf("learning rate %g: above 0 and at most 1 (0 for the default)", s.LR))
	}
	if s.Beta < 0 || s.Beta > 1 || s.Beta != s.Beta {
		errs = append(errs, fmt.Errorf("beta %g: in (0, 1] (0 for the default 0.5)", s.Beta))
	}
	if s.PreviewEvery < -1 || s.PreviewEvery > 100000 {
		errs = append(errs, fmt.Errorf("preview every %d: a step count from 1 to 100000 (0 for the default, -1 for none)", s.PreviewEvery))
	}
	return errors.Join(errs...)
}

// checkpointKey tells runs with different settings apart in checkpoint
// names, so that Train resumes only the same run.
func (s TrainSettings) checkpointKey(method adi.Method) string {
	key := fmt.Sprintf("%s-%d-%d", method, s.Steps, s.Seed)
	if s.LR != 0 || s.Beta != 0 || len(s.ContrastPhotos) > 0 {
		key += fmt.Sprintf("-lr%g-b%g-c%s", s.LR, s.Beta, contenthash.Bytes([]byte(strings.Join(s.ContrastPhotos, "\x00")))[:8])
	}
	return key
}

// PausedRun is a training run that stopped early and resumes when Train is
// called again with its Settings.
type PausedRun struct {
	Settings TrainSettings
	Progress float64 // 0..1 at the last report
}

// TrainProgress is one progress report of a training run.
type TrainProgress struct {
	Message        string // what is being prepared; empty during steps
	Step, Steps    int
	Loss, Smoothed float64
	ETA            time.Duration
	// Preview is TrainPreviewPrompt drawn with the identifier at Step on
	// the run's model; a report with a Preview carries no loss.
	Preview image.Image
	// PreviewPrompt is the prompt Preview shows, the trigger filled in.
	PreviewPrompt string
}

// previewEvery is the step interval of s's previews, 0 for none.
func (s TrainSettings) previewEvery() int {
	switch {
	case s.PreviewEvery < 0:
		return 0
	case s.PreviewEvery > 0:
		return s.PreviewEvery
	}
	return max(s.Steps/DefaultPreviews, 1)
}

// workDir is where an action's training checkpoints live inside the
// library. It is derived data: deleting it costs only recomputation.
func (k *Kata) workDir(actionID int64) string {
	return filepath.Join(k.lib.Dir(), "work", fmt.Sprintf("action-%d", actionID))
}

// Train learns an identifier for an action from its photos on a library
// model, stores it as a new identifier version and returns it. It checkpoints
// as it goes: after a cancel or a crash the same call resumes where it
// stopped. progress is called from the training goroutine.
func (k *Kata) Train(ctx context.Context, actionID, modelID int64, s TrainSettings, progress func(TrainProgress)) (ActionInfo, error) {
	ctx, cancel := k.untilClose(ctx)
	defer cancel()
	if progress == nil {
		progress = func(TrainProgress) {}
	}
	method, err := adi.ParseMethod(firstNonEmpty(s.Method, "adi"))
	if err != nil {
		return ActionInfo{}, err
	}
	if err := s.Validate(); err != nil {
		return ActionInfo{}, err
	}
	if s.Steps <= 0 {
		s.Steps = adi.DefaultSteps
	}
	var contrast []adi.ContrastImage
	if len(s.ContrastPhotos) > 0 {
		if contrast, err = contrastPhotos(s.ContrastPhotos, nil); err != nil {
			return ActionInfo{}, err
		}
	}
	a, err := k.lib.Action(ctx, actionID)
	if err != nil {
		return ActionInfo{}, err
	}
	exemplars, err := libraryExemplars(ctx, k.lib, a)
	if err != nil {
		return ActionInfo{}, err
	}

	k.mu.Lock()
	defer k.mu.Unlock()
	progress(TrainProgress{Message: "Loading the model…"})
	eng, err := k.engineFor(modelID)
	if err != nil {
		return ActionInfo{}, err
	}
	// Identifiers are trained on the model's own weights, never on merged LoRAs.
	if err := eng.loras.restore(); err != nil {
		return ActionInfo{}, err
	}
	if err := os.MkdirAll(k.workDir(actionID), 0o755); err != nil {
		return ActionInfo{}, err
	}
	ckpt := filepath.Join(k.workDir(actionID), "train-"+s.checkpointKey(method)+trainStateExt)
	// A run paused when the state was named .ckpt resumes under the new name.
	legacy := strings.TrimSuffix(ckpt, trainStateExt) + ".ckpt"
	if _, err := os.Stat(ckpt); errors.Is(err, os.ErrNotExist) {
		_ = os.Rename(legacy, ckpt)
	}
	job, err := k.trainJob(ctx, ckpt, store.Job{Kind: "train", State: store.JobRunning, Checkpoint: ckpt,
		Params: map[string]any{"action": a.ID, "model": modelID, "method": string(method), "steps": s.Steps, "seed": s.Seed,
			"lr": s.LR, "beta": s.Beta, "contrast": s.ContrastPhotos}})
	if err != nil {
		return ActionInfo{}, err
	}
	opts := adi.Options{Method: method, Name: a.Trigger, Steps: s.Steps, Seed: s.Seed,
		CheckpointPath: ckpt, CheckpointEvery: 25, Resume: true, PreviewEvery: s.previewEvery(),
		Contrast: adi.ContrastOptions{CacheDir: contrastCacheDir(k.lib.Dir()), UserImages: contrast}}
	opts.AdamW.LR = s.LR
	if s.Beta != 0 {
		opts.Mask = adi.MaskConfig{Beta: s.Beta}
	}
	stopWatch := backend.Watch(ctx, eng.backend) // a cancellation stops inside a step
	defer stopWatch()
	previewPrompt := placeholder.Fill(TrainPreviewPrompt, a.Trigger)
	id, err := adi.Train(ctx, eng.base, exemplars, opts, func(e adi.Event) {
		switch e.Kind {
		case adi.EventPrepare:
			progress(TrainProgress{Message: e.Message})
		case adi.EventStep:
			progress(TrainProgress{Step: e.Step, Steps: e.Steps, Loss: e.Loss, Smoothed: e.Smoothed, ETA: e.ETA})
			if e.Steps > 0 {
				job.Progress = float64(e.Step) / float64(e.Steps)
			}
		case adi.EventPreview:
			progress(TrainProgress{Step: e.Step, Steps: e.Steps, Preview: e.Preview, PreviewPrompt: previewPrompt})
		case adi.EventCheckpoint:
			// The row only reports progress for a later resume; the
			// checkpoint file is what matters, so a failed update is not fatal.
			_ = k.lib.UpdateJob(ctx, job)
		}
	})
	if err != nil {
		job.State, job.Error = store.JobFailed, err.Error()
		if errors.Is(err, context.Canceled) {
			job.State, job.Error = store.JobPaused, ""
		}
		// The job row only reports; a failure to update it must not hide err.
		_ = k.lib.UpdateJob(context.Background(), job)
		return ActionInfo{}, err
	}
	if err := k.saveIdentifier(ctx, a, eng, id, opts); err != nil {
		return ActionInfo{}, err
	}
	job.State, job.Progress = store.JobDone, 1
	if err := k.lib.UpdateJob(ctx, job); err != nil {
		return ActionInfo{}, err
	}
	_ = os.Remove(ckpt) // finished: resuming is no longer possible or needed
	return k.actionInfo(ctx, a)
}

// trainJob reuses the paused or interrupted job of the same checkpoint, so a
// resumed run continues its row; otherwise it records a new one.
func (k *Kata) trainJob(ctx context.Context, ckpt string, fresh store.Job) (store.Job, error) {
	jobs, err := k.lib.Jobs(ctx, store.JobPaused, store.JobInterrupted)
	if err != nil {
		return store.Job{}, err
	}
	for _, j := range jobs {
		if j.Kind == "train" && (j.Checkpoint == ckpt || j.Checkpoint == strings.TrimSuffix(ckpt, trainStateExt)+".ckpt") {
			j.State, j.Error, j.Checkpoint = store.JobRunning, "", ckpt
			return j, k.lib.UpdateJob(ctx, j)
		}
	}
	return k.lib.CreateJob(ctx, fresh)
}

// pausedRun finds an action's training run that stopped before its end
// and can resume from its checkpoint.
func (k *Kata) pausedRun(ctx context.Context, actionID int64) (*PausedRun, error) {
	jobs, err := k.lib.Jobs(ctx, store.JobPaused, store.JobInterrupted)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		id, _ := j.Params["action"].(float64) // JSON numbers
		if j.Kind != "train" || int64(id) != actionID {
			continue
		}
		if _, err := os.Stat(j.Checkpoint); err != nil {
			continue
		}
		method, _ := j.Params["method"].(string)
		steps, _ := j.Params["steps"].(float64)
		seed, _ := j.Params["seed"].(float64)
		lr, _ := j.Params["lr"].(float64)
		beta, _ := j.Params["beta"].(float64)
		var contrast []string
		if list, ok := j.Params["contrast"].([]any); ok {
			for _, c := range list {
				if p, ok := c.(string); ok {
					contrast = append(contrast, p)
				}
			}
		}
		return &PausedRun{Settings: TrainSettings{Method: method, Steps: int(steps), Seed: uint64(seed),
			LR: lr, Beta: beta, ContrastPhotos: contrast}, Progress: j.Progress}, nil
	}
	return nil, nil
}

// saveIdentifier stores a trained identifier as a new version of the
// action's identifier for that method.
func (k *Kata) saveIdentifier(ctx context.Context, a store.Action, eng *engine, id *adi.Identifier, opts adi.Options) error {
	var buf bytes.Buffer
	if err := adi.Encode(&buf, id); err != nil {
		return err
	}
	data := buf.Bytes()
	ids, err := k.lib.Identifiers(ctx, a.ID)
	if err != nil {
		return err
	}
	var row store.Identifier
	for _, existing := range ids {
		if existing.Method == string(opts.Method) && existing.BaseModelHash == eng.model.Hash {
			row = existing
		}
	}
	if row.ID == 0 {
		if row, err = k.lib.CreateIdentifier(ctx, store.Identifier{ActionID: a.ID, Method: string(opts.Method),
			BaseModelHash: eng.model.Hash}); err != nil {
			return err
		}
	}
	_, err = k.lib.AddIdentifierVersion(ctx, store.IdentifierVersion{IdentifierID: row.ID,
		Params: map[string]any{"steps": opts.Steps, "seed": opts.Seed, "trigger": id.Trigger}}, data)
	return err
}

func (k *Kata) actionInfo(ctx context.Context, a store.Action) (ActionInfo, error) {
	ex, err := k.lib.Exemplars(ctx, a.ID)
	if err != nil {
		return ActionInfo{}, err
	}
	info := ActionInfo{ID: a.ID, Name: a.Name, Trigger: a.Trigger, Exemplars: len(ex)}
	if info.Identifier, err = k.identifierSummary(ctx, a.ID); err != nil {
		return info, err
	}
	info.Paused, err = k.pausedRun(ctx, a.ID)
	return info, err
}

// identifierSummary describes an action's newest identifier version.
func (k *Kata) identifierSummary(ctx context.Context, actionID int64) (string, error) {
	ids, err := k.lib.Identifiers(ctx, actionID)
	if err != nil || len(ids) == 0 {
		return "", err
	}
	var best store.IdentifierVersion
	var method string
	for _, id := range ids {
		v, err := k.lib.LatestVersion(ctx, id.ID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		if v.Created.After(best.Created) {
			best, method = v, id.Method
		}
	}
	if best.ID == 0 {
		return "", nil
	}
	if file, ok := best.Params["imported"].(string); ok {
		return fmt.Sprintf("%s v%d, imported from %s", strings.ToUpper(method), best.Version, file), nil
	}
	return fmt.Sprintf("%s v%d, %v steps", strings.ToUpper(method), best.Version, best.Params["steps"]), nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
