package app

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"kata/store"
)

// SubjectInfo is one row of the gallery's matrix: who does the actions.
type SubjectInfo struct {
	ID     int64
	Name   string
	Prompt string // text put before the action's trigger
}

// Matrix is the gallery: subjects (rows) by trained actions (columns), and
// the images of each cell, newest first.
type Matrix struct {
	Subjects []SubjectInfo
	Actions  []ActionInfo
	Cells    map[Cell][]GenerationInfo
	// Loose are the images of no cell (free prompts), newest first.
	Loose []GenerationInfo
}

// Cell names one subject x action pair of the matrix.
type Cell struct{ SubjectID, ActionID int64 }

// generationInfo is a library generation as the window shows it, without
// its thumbnail.
func generationInfo(lib *store.Library, g store.Generation) GenerationInfo {
	return GenerationInfo{ID: g.ID, ImagePath: lib.BlobPath(g.Image), Prompt: g.Prompt, Negative: g.Negative,
		Seed: uint64(g.Seed), Favourite: g.Favourite, Sampler: g.Sampler, Steps: g.Steps, CFG: g.CFG,
		Width: g.Width, Height: g.Height, SubjectID: g.SubjectID, ActionID: g.ActionID}
}

// Matrix reads the gallery as subjects x trained actions, with thumbnails.
func (k *Kata) Matrix() (Matrix, error) {
	ctx, cancel := opContext()
	defer cancel()
	subjects, err := k.lib.Subjects(ctx)
	if err != nil {
		return Matrix{}, err
	}
	trained, err := k.trainedActions(ctx)
	if err != nil {
		return Matrix{}, err
	}
	m := Matrix{Cells: map[Cell][]GenerationInfo{}}
	for _, s := range subjects {
		m.Subjects = append(m.Subjects, SubjectInfo{ID: s.ID, Name: s.Name, Prompt: s.Prompt})
	}
	for _, a := range trained {
		info, err := k.actionInfo(ctx, a)
		if err != nil {
			return Matrix{}, err
		}
		m.Actions = append(m.Actions, info)
	}
	gens, err := k.Generations()
	if err != nil {
		return Matrix{}, err
	}
	for _, g := range gens {
		if g.SubjectID == 0 || g.ActionID == 0 {
			m.Loose = append(m.Loose, g)
			continue
		}
		c := Cell{g.SubjectID, g.ActionID}
		m.Cells[c] = append(m.Cells[c], g)
	}
	return m, nil
}

// AddSubjects adds matrix rows for comma-separated subject texts ("a panda,
// our mascot"), skipping ones already there, and returns the rows named.
func (k *Kata) AddSubjects(text string) ([]SubjectInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	subjects, err := k.ensureSubjects(ctx, strings.Split(text, ","))
	if err != nil {
		return nil, err
	}
	out := make([]SubjectInfo, len(subjects))
	for i, s := range subjects {
		out[i] = SubjectInfo{ID: s.ID, Name: s.Name, Prompt: s.Prompt}
	}
	return out, nil
}

// RemoveSubject removes a matrix row; its images stay in the gallery.
func (k *Kata) RemoveSubject(subjectID int64) error {
	ctx, cancel := opContext()
	defer cancel()
	return k.lib.DeleteSubject(ctx, subjectID)
}

// SetFavourite marks or unmarks an image as a favourite.
func (k *Kata) SetFavourite(generationID int64, fav bool) error {
	ctx, cancel := opContext()
	defer cancel()
	return k.lib.SetFavourite(ctx, generationID, fav)
}

// CellRequests are the generations that fill cells of m: every subject in
// subjectIDs (nil: all) doing every action in actionIDs (nil: all), with
// variations images each, seeds seed, seed+1, ... per cell. base carries the
// model and settings; its prompt and cell are replaced.
func CellRequests(m Matrix, subjectIDs, actionIDs []int64, variations int, seed uint64, base GenerateRequest) ([]GenerateRequest, error) {
	if variations < 1 || variations > 16 {
		return nil, fmt.Errorf("variations %d: from 1 to 16", variations)
	}
	var out []GenerateRequest
	for _, s := range m.Subjects {
		if subjectIDs != nil && !slices.Contains(subjectIDs, s.ID) {
			continue
		}
		for _, a := range m.Actions {
			if actionIDs != nil && !slices.Contains(actionIDs, a.ID) {
				continue
			}
			for v := range variations {
				r := base
				r.Prompt = s.Prompt + " " + a.Trigger
				r.Seed = seed + uint64(v)
				r.SubjectID, r.ActionID = s.ID, a.ID
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		switch {
		case len(m.Actions) == 0:
			return nil, errors.New("no trained action yet: train one on the Actions page")
		case len(m.Subjects) == 0:
			return nil, errors.New("add a subject first, e.g. \"a panda\"")
		}
		return nil, errors.New("nothing to generate in that selection")
	}
	return out, nil
}
