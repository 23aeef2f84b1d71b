package app

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"

	"kata/store"
	"kata/store/atomicfile"
)

// MixRequest asks for every subject doing every trained action.
type MixRequest struct {
	ModelID  int64
	Subjects []string // prompt texts such as "a panda", "our mascot"
	Seed     uint64   // one seed for all cells, so cells differ only by subject and action
	Steps    int      // default 20
}

// Mix generates one image per subject and trained action ("a panda
// <handstand>", "a panda <salute>", "a robot <handstand>"...), filed under its
// subject and action so the contact sheet can lay them out. progress reports
// after each image.
func (k *Kata) Mix(ctx context.Context, r MixRequest, progress func(done, total int, prompt string)) ([]GenerationInfo, error) {
	ctx, cancel := k.untilClose(ctx)
	defer cancel()
	subjects, err := k.ensureSubjects(ctx, r.Subjects)
	if err != nil {
		return nil, err
	}
	actions, err := k.trainedActions(ctx)
	if err != nil {
		return nil, err
	}
	if len(actions) == 0 {
		return nil, errors.New("no trained action yet: train one on the Actions page")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	total := len(subjects) * len(actions)
	var out []GenerationInfo
	for _, s := range subjects {
		for _, a := range actions {
			prompt := s.Prompt + " " + a.Trigger
			if progress != nil {
				progress(len(out), total, prompt)
			}
			g, err := k.generateLocked(ctx, GenerateRequest{ModelID: r.ModelID, Prompt: prompt,
				Steps: r.Steps, SubjectID: s.ID, ActionID: a.ID}, []uint64{r.Seed}, nil)
			if err != nil {
				return out, fmt.Errorf("%s: %w", prompt, err)
			}
			out = append(out, g...)
		}
	}
	if progress != nil {
		progress(total, total, "")
	}
	return out, nil
}

// ensureSubjects returns the library's subjects for the given prompt texts,
// adding the ones it lacks (named by their text).
func (k *Kata) ensureSubjects(ctx context.Context, prompts []string) ([]store.Subject, error) {
	have, err := k.lib.Subjects(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Subject
	for _, p := range prompts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		found := false
		for _, s := range have {
			if s.Name == p {
				out, found = append(out, s), true
				break
			}
		}
		if !found {
			s, err := k.lib.CreateSubject(ctx, store.Subject{Name: p, Prompt: p})
			if err != nil {
				return nil, err
			}
			have = append(have, s)
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("name at least one subject, e.g. \"a panda, a robot\"")
	}
	return out, nil
}

// trainedActions lists the actions that have at least one identifier.
func (k *Kata) trainedActions(ctx context.Context) ([]store.Action, error) {
	actions, err := k.lib.Actions(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.Action
	for _, a := range actions {
		ids, err := k.lib.Identifiers(ctx, a.ID)
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 {
			out = append(out, a)
		}
	}
	return out, nil
}

// ExportContactSheet writes a PNG grid of subjects (rows) by actions
// (columns) with labels, each cell the favourite or newest image of that
// pair, to path.
func (k *Kata) ExportContactSheet(path string) error {
	ctx, cancel := opContext()
	defer cancel()
	sheet, err := k.lib.ContactSheet(ctx, store.SheetOptions{})
	if err != nil {
		return err
	}
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, sheet) })
}
