package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Job states.
const (
	JobQueued      = "queued"
	JobRunning     = "running"
	JobPaused      = "paused"      // stopped by the user, resumable from Checkpoint
	JobInterrupted = "interrupted" // was running when Kata stopped; resumable
	JobDone        = "done"
	JobFailed      = "failed"
	JobCancelled   = "cancelled"
)

// Job is long-running work (train, generate, export) that shows progress and
// can resume from its checkpoint after a restart.
type Job struct {
	ID         int64
	Kind       string         // "train", "generate", "export", ...
	State      string         // one of the Job* states
	Progress   float64        // 0..1
	Params     map[string]any // what to do, as the job kind defines
	Checkpoint string         // path of the file to resume from; "" = start over
	Error      string         // why it failed
	Created    time.Time
	Updated    time.Time
}

// CreateJob adds a job; an empty State becomes JobQueued.
func (l *Library) CreateJob(ctx context.Context, j Job) (Job, error) {
	if j.Kind == "" {
		return j, errors.New("create job: empty kind")
	}
	if j.State == "" {
		j.State = JobQueued
	}
	params, err := json.Marshal(nonNil(j.Params))
	if err != nil {
		return j, fmt.Errorf("create job: params: %w", err)
	}
	t := now()
	j.Created, j.Updated = fromMillis(t), fromMillis(t)
	j.ID, err = l.insert(ctx, j.Kind+" job", `INSERT INTO jobs(kind, state, progress, params, checkpoint, error, created, updated)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)`, j.Kind, j.State, j.Progress, params, j.Checkpoint, j.Error, t, t)
	return j, err
}

// UpdateJob saves State, Progress, Checkpoint and Error of a job.
func (l *Library) UpdateJob(ctx context.Context, j Job) error {
	return l.update(ctx, "job", j.ID, `UPDATE jobs SET state = ?, progress = ?, checkpoint = ?, error = ?, updated = ? WHERE id = ?`,
		j.State, j.Progress, j.Checkpoint, j.Error, now(), j.ID)
}

const jobCols = `id, kind, state, progress, params, checkpoint, error, created, updated`

func scanJob(s scanner) (Job, error) {
	var j Job
	var params string
	var created, updated int64
	if err := s.Scan(&j.ID, &j.Kind, &j.State, &j.Progress, &params, &j.Checkpoint, &j.Error, &created, &updated); err != nil {
		return j, err
	}
	j.Created, j.Updated = fromMillis(created), fromMillis(updated)
	if err := json.Unmarshal([]byte(params), &j.Params); err != nil {
		return j, fmt.Errorf("job %d params: %w", j.ID, err)
	}
	return j, nil
}

// Job returns the job with the given id.
func (l *Library) Job(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(l.db.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	return j, notFound(err, "job", id)
}

// Jobs lists jobs in the given states (all jobs when none), oldest first.
func (l *Library) Jobs(ctx context.Context, states ...string) ([]Job, error) {
	q := `SELECT ` + jobCols + ` FROM jobs`
	var args []any
	for i, s := range states {
		if i == 0 {
			q += ` WHERE state IN (?`
		} else {
			q += `, ?`
		}
		args = append(args, s)
	}
	if len(states) > 0 {
		q += `)`
	}
	return queryAll(ctx, l.db, scanJob, q+` ORDER BY id`, args...)
}

// DeleteJob removes a job row (its checkpoint file is the caller's).
func (l *Library) DeleteJob(ctx context.Context, id int64) error {
	return l.deleteRow(ctx, "job", `DELETE FROM jobs WHERE id = ?`, id)
}
