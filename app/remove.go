package app

import (
	"errors"
	"fmt"
	"os"
)

// RemoveAction deletes an action with its photos and trained identifiers
// (their files too when nothing else uses them) and its training
// checkpoints; images made with it stay in the gallery. A running training
// run of the action must be cancelled first.
func (k *Kata) RemoveAction(actionID int64) error {
	ctx, cancel := opContext()
	defer cancel()
	if err := k.lib.DeleteAction(ctx, actionID); err != nil {
		return err
	}
	// Checkpoints are derived data: a failure to remove them costs disk, not
	// correctness, but is still reported.
	if err := os.RemoveAll(k.workDir(actionID)); err != nil {
		return fmt.Errorf("action %d removed, its checkpoints not: %w", actionID, err)
	}
	return nil
}

// RemoveGenerations deletes images from the gallery (their files too when
// nothing else uses them). Every id is tried; the error names those that
// failed.
func (k *Kata) RemoveGenerations(ids []int64) error {
	ctx, cancel := opContext()
	defer cancel()
	var errs []error
	for _, id := range ids {
		if err := k.lib.DeleteGeneration(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
