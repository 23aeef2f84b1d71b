package sdtrain

import (
	"fmt"
	"os"

	"github.com/gomlx/gomlx/pkg/core/tensors"

	"kata/model/sd"
)

// loadInit reads Options.InitFrom: a unet-stage checkpoint of this trainer,
// or a diffusers folder (an exported model, such as the built-in one). A
// folder's weights serve as both the weights and their EMA; its fingerprint
// is the SHA-256 of its UNet weights file, its step 0. With headerOnly (a
// resumed run, which needs only the fingerprint, step and scaling factor)
// no tensors are read: about 200 MB of a Kata World checkpoint, and a
// whole folder's weights.
func loadInit(path string, headerOnly bool) (*checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if headerOnly {
			return loadCheckpointHeader(path)
		}
		return loadCheckpoint(path)
	}
	if headerOnly {
		sha, vae, err := sd.DiffusersIdentity(path)
		if err != nil {
			return nil, err
		}
		c := &checkpoint{Stage: StageUNet, ScalingFactor: vae.ScalingFactor}
		c.Fingerprint = diffusersFingerprint(sha)
		return c, nil
	}
	m, err := sd.Load(path, nil)
	if err != nil {
		return nil, err
	}
	defer m.Finalize()
	c := &checkpoint{Stage: StageUNet, ScalingFactor: m.VAE.ScalingFactor, Weights: map[string][]float32{}, EMA: map[string][]float32{}}
	c.Fingerprint = diffusersFingerprint(m.SHA256)
	for v := range m.Ctx.IterVariables() {
		w, err := tensors.CopyFlatData[float32](v.MustValue())
		if err != nil {
			return nil, fmt.Errorf("weight %s: %w", sd.VariableKey(v), err)
		}
		c.Weights[sd.VariableKey(v)] = w
		c.EMA[sd.VariableKey(v)] = w
	}
	return c, nil
}

// diffusersFingerprint is a folder's fingerprint as initial checkpoint.
func diffusersFingerprint(sha256 string) string { return "diffusers:" + sha256 }
