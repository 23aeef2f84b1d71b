package adi

import (
	"errors"
	"fmt"
	"math"
)

// ErrNonFiniteLoss is returned (wrapped) by Train when a step's loss,
// gradient or updated vectors are NaN or infinite. Nothing of that step is
// saved: the last checkpoint stays as it was.
var ErrNonFiniteLoss = errors.New("loss, gradient or vectors became NaN or infinite")

// nonFiniteStep checks one step's loss and values (its gradient before the
// update, the vectors after it; what names them). savedStep is the step of
// the checkpoint at path (-1: none written).
func nonFiniteStep(loss float64, values []float32, what string, step, savedStep int, path string) error {
	bad := ""
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		bad = "loss"
	}
	for _, v := range values {
		if bad != "" {
			break
		}
		if v-v != 0 { // NaN or infinite
			bad = what
		}
	}
	if bad == "" {
		return nil
	}
	kept := "no checkpoint was written"
	switch {
	case path == "":
		kept = "checkpoints are off"
	case savedStep >= 0:
		kept = fmt.Sprintf("the last good checkpoint (step %d) is kept in %s", savedStep, path)
	}
	return fmt.Errorf("step %d: %w (the %s; loss %g); training stopped, %s; try a lower learning rate", step, ErrNonFiniteLoss, bad, loss, kept)
}
