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
	"kata/store"
)

// DefaultTrainSteps is the step count the window offers for a training run.
const DefaultTrainSteps = adi.DefaultSteps

// TrainSettings are the choices the window offers for a training run.
type TrainSettings struct {
	Method string // "adi" (default), "p+" or "ti"
	Steps  int    // default adi.DefaultSteps
	Seed   uint64
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
	Preview        image.Image // a sample of the identifier so far, when rendered
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
	if s.Steps <= 0 {
		s.Steps = adi.DefaultSteps
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
	ckpt := filepath.Join(k.workDir(actionID), fmt.Sprintf("train-%s-%d-%d%s", method, s.Steps, s.Seed, trainStateExt))
	// A run paused when the state was named .ckpt resumes under the new name.
	legacy := strings.TrimSuffix(ckpt, trainStateExt) + ".ckpt"
	if _, err := os.Stat(ckpt); errors.Is(err, os.ErrNotExist) {
		_ = os.Rename(legacy, ckpt)
	}
	job, err := k.trainJob(ctx, ckpt, store.Job{Kind: "train", State: store.JobRunning, Checkpoint: ckpt,
		Params: map[string]any{"action": a.ID, "model": modelID, "method": string(method), "steps": s.Steps, "seed": s.Seed}})
	if err != nil {
		return ActionInfo{}, err
	}
	opts := adi.Options{Method: method, Name: a.Trigger, Steps: s.Steps, Seed: s.Seed,
		CheckpointPath: ckpt, CheckpointEvery: 25, Resume: true, PreviewEvery: max(s.Steps/5, 1),
		Contrast: adi.ContrastOptions{CacheDir: contrastCacheDir(k.lib.Dir())}}
	id, err := adi.Train(ctx, eng.base, exemplars, opts, func(e adi.Event) {
		progress(TrainProgress{Message: e.Message, Step: e.Step, Steps: e.Steps, Loss: e.Loss,
			Smoothed: e.Smoothed, ETA: e.ETA, Preview: e.Preview})
		if e.Kind == adi.EventStep && e.Steps > 0 {
			job.Progress = float64(e.Step) / float64(e.Steps)
		}
		if e.Kind == adi.EventCheckpoint {
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
		return &PausedRun{Settings: TrainSettings{Method: method, Steps: int(steps), Seed: uint64(seed)},
			Progress: j.Progress}, nil
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
