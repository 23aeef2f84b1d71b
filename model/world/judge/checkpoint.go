package judge

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/safetensors"
)

// A training checkpoint holds every variable of the training context (both
// networks, Adam's moments, the optimiser's and the schedule's step
// counters, the loss averages), named by absolute scope path, with the step
// and the settings fingerprint in metadata.

// writeCheckpoint saves every variable of ctx to path atomically.
func writeCheckpoint(path string, ctx *context.Context, step int, fingerprint string) error {
	var ts []safetensors.Tensor
	for v := range ctx.IterVariables() {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("checkpoint %s: variable %s: %w", path, v.ScopeAndName(), err)
		}
		dims := t.Shape().Dimensions
		switch t.DType() {
		case dtypes.Float32:
			ts = append(ts, safetensors.F32Tensor(v.ScopeAndName(), dims, tensors.MustCopyFlatData[float32](t)))
		case dtypes.Int64:
			ts = append(ts, safetensors.I64Tensor(v.ScopeAndName(), dims, tensors.MustCopyFlatData[int64](t)))
		default:
			return fmt.Errorf("checkpoint %s: variable %s has dtype %s", path, v.ScopeAndName(), t.DType())
		}
	}
	meta := map[string]string{
		metaFormat:    "kata-world-judges-checkpoint",
		metaVersion:   fmt.Sprint(FormatVersion),
		"step":        fmt.Sprint(step),
		"fingerprint": fingerprint,
	}
	if err := safetensors.Write(path, ts, meta); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// checkpoint is a read checkpoint; it is the context's Loader on resume, so
// each variable takes its saved value as the model creates it.
type checkpoint struct {
	step        int
	fingerprint string
	values      map[string]*tensors.Tensor // by ScopeAndName
}

// readCheckpoint loads a file written by writeCheckpoint.
func readCheckpoint(path string) (*checkpoint, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	meta := f.Metadata()
	if meta[metaFormat] != "kata-world-judges-checkpoint" {
		return nil, fmt.Errorf("%s is not a judges training checkpoint", path)
	}
	ck := &checkpoint{fingerprint: meta["fingerprint"], values: map[string]*tensors.Tensor{}}
	if ck.step, err = stepOf(meta); err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	for _, info := range f.Infos() {
		if info.DType == safetensors.I64 {
			data, shape, err := f.Int64(info.Name)
			if err != nil {
				return nil, fmt.Errorf("checkpoint %s: %w", path, err)
			}
			ck.values[info.Name] = tensors.FromFlatDataAndDimensions(data, shape...)
			continue
		}
		data, shape, err := f.Float32(info.Name)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
		ck.values[info.Name] = tensors.FromFlatDataAndDimensions(data, shape...)
	}
	return ck, nil
}

// LoadVariable implements context.Loader.
func (c *checkpoint) LoadVariable(_ *context.Context, scope, name string) (*tensors.Tensor, bool) {
	key := strings.TrimSuffix(scope, context.ScopeSeparator) + context.ScopeSeparator + name
	t, ok := c.values[key]
	if ok {
		delete(c.values, key)
	}
	return t, ok
}

// DeleteVariable implements context.Loader.
func (c *checkpoint) DeleteVariable(_ *context.Context, scope, name string) error {
	delete(c.values, strings.TrimSuffix(scope, context.ScopeSeparator)+context.ScopeSeparator+name)
	return nil
}
