package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"kata/assets"
	"kata/model/placeholder"
	"kata/store"
)

// DefaultActionName names the action that loose dropped photos create when
// no action is selected; the designer renames it before training.
const DefaultActionName = "New action"

// ImportDropped imports what the designer dropped or picked. Each folder
// becomes (or joins) the action named after the folder, its trigger derived
// from that name; identifier files (.safetensors: Kata's, or another tool's
// embedding) join the action of their trigger (ImportIdentifier); other
// loose files go to the action actionID, or to a new action called
// DefaultActionName when actionID is 0. ImportReport.Actions lists
// the actions that received files, folders first, in the order given.
func (k *Kata) ImportDropped(actionID int64, paths []string) (ImportReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
	defer cancel()
	var report ImportReport
	var folders, files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case err != nil:
			report.Failed = append(report.Failed, FileError{Path: p, Err: unwrapPath(err)})
		case st.IsDir():
			folders = append(folders, p)
		case isIdentifierFile(p):
			if err := k.importDroppedIdentifier(ctx, &report, p); err != nil {
				return report, err
			}
		default:
			files = append(files, p)
		}
	}
	if len(folders) > 0 {
		res, err := k.lib.Import(ctx, folders, store.ImportOptions{})
		if err := k.addResult(ctx, &report, res, err); err != nil {
			return report, err
		}
	}
	if len(files) == 0 {
		return report, nil
	}
	var target store.Action
	if actionID != 0 {
		a, err := k.lib.Action(ctx, actionID)
		if err != nil {
			return report, err
		}
		target = a
	} else {
		info, err := k.CreateAction(DefaultActionName)
		if err != nil {
			return report, err
		}
		if target, err = k.lib.Action(ctx, info.ID); err != nil {
			return report, err
		}
	}
	res, err := k.lib.Import(ctx, files, store.ImportOptions{Action: target.Name})
	if err := k.addResult(ctx, &report, res, err); err != nil {
		return report, err
	}
	if !slices.ContainsFunc(report.Actions, func(a ActionInfo) bool { return a.ID == target.ID }) {
		info, err := k.actionInfo(ctx, target)
		if err != nil {
			return report, err
		}
		report.Actions = append(report.Actions, info)
	}
	return report, nil
}

// importDroppedIdentifier imports one identifier file for ImportDropped:
// a file it refuses is reported in Failed; an error of the library is
// returned.
func (k *Kata) importDroppedIdentifier(ctx context.Context, report *ImportReport, path string) error {
	res, err := importIdentifier(ctx, k.lib, path)
	if err != nil {
		report.Failed = append(report.Failed, FileError{Path: path, Err: err})
		return nil
	}
	if res.Duplicate {
		report.Duplicates++
	} else {
		report.Identifiers++
	}
	if !slices.ContainsFunc(report.Actions, func(a ActionInfo) bool { return a.ID == res.Action.ID }) {
		info, err := k.actionInfo(ctx, res.Action)
		if err != nil {
			return err
		}
		report.Actions = append(report.Actions, info)
	}
	return nil
}

// addResult folds one store import into report; err is the import's own.
func (k *Kata) addResult(ctx context.Context, report *ImportReport, res *store.ImportResult, err error) error {
	if res != nil {
		report.Added += len(res.Added)
		report.Duplicates += len(res.Duplicates)
		for _, f := range res.Failed {
			report.Failed = append(report.Failed, FileError{Path: f.Path, Err: f.Err})
		}
		for _, a := range res.Actions {
			info, ierr := k.actionInfo(ctx, a)
			if ierr != nil {
				return ierr
			}
			report.Actions = append(report.Actions, info)
		}
	}
	return err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// SampleActions are the exemplar sets Kata ships for a first try
// ("handstand", "meditate", "salute").
func SampleActions() []string { return slices.Clone(assets.SampleActions) }

// AddSample imports the shipped exemplar set name (one of SampleActions) as
// an action named after it, with the set's captions.
func (k *Kata) AddSample(name string) (ImportReport, error) {
	if !slices.Contains(assets.SampleActions, name) {
		return ImportReport{}, fmt.Errorf("no sample set %q (there are %s)", name, strings.Join(assets.SampleActions, ", "))
	}
	tmp, err := os.MkdirTemp("", "kata-sample-")
	if err != nil {
		return ImportReport{}, err
	}
	defer os.RemoveAll(tmp)
	sub, err := fs.Sub(assets.Samples, "samples/"+name)
	if err != nil {
		return ImportReport{}, err
	}
	dir := filepath.Join(tmp, name)
	if err := os.CopyFS(dir, sub); err != nil {
		return ImportReport{}, fmt.Errorf("unpack sample %s: %w", name, err)
	}
	return k.ImportDropped(0, []string{dir})
}

// CaptionSlot is what a caption may say instead of the action's trigger
// to mark where the action goes.
const CaptionSlot = placeholder.Slot

// SetCaption changes the caption of exemplar exemplarID. The caption must
// say where the action goes, as "{}" or as the action's trigger; "{}" is
// stored as the trigger.
func (k *Kata) SetCaption(exemplarID int64, caption string) (ExemplarInfo, error) {
	ctx, cancel := opContext()
	defer cancel()
	e, err := k.lib.Exemplar(ctx, exemplarID)
	if err != nil {
		return ExemplarInfo{}, err
	}
	a, err := k.lib.Action(ctx, e.ActionID)
	if err != nil {
		return ExemplarInfo{}, err
	}
	caption = strings.TrimSpace(placeholder.Fill(caption, a.Trigger))
	if !strings.Contains(caption, a.Trigger) {
		return ExemplarInfo{}, fmt.Errorf("caption %q: say where the action goes with %s or %s", caption, placeholder.Slot, a.Trigger)
	}
	e.Caption = caption
	if err := k.lib.UpdateExemplar(ctx, e); err != nil {
		return ExemplarInfo{}, err
	}
	return ExemplarInfo{ID: e.ID, ImagePath: k.lib.BlobPath(e.Image), Caption: e.Caption}, nil
}

// RemoveExemplar removes exemplar exemplarID from its action; the picture
// file stays while anything else uses it.
func (k *Kata) RemoveExemplar(exemplarID int64) error {
	ctx, cancel := opContext()
	defer cancel()
	return k.lib.DeleteExemplar(ctx, exemplarID)
}

// MinExemplars is how many photos an action should have before training:
// fewer still train, but learn the photos more than the action.
const MinExemplars = 4
