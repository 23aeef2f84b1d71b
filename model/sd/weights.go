package sd

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/safetensors"
)

// WeightDims returns every weight of m by key ("unet/conv_in.weight",
// "text_encoder/text_model.encoder.layers.0.mlp.fc1.weight", as
// VariableKey names them) with its dimensions.
func (m *Model) WeightDims() map[string][]int {
	out := map[string][]int{}
	m.Ctx.EnumerateVariables(func(v *context.Variable) {
		out[VariableKey(v)] = slices.Clone(v.Shape().Dimensions)
	})
	return out
}

// variable returns the variable of key, or an error naming it.
func (m *Model) variable(key string) (*context.Variable, error) {
	vctx, name := variableForKey(m.Ctx, key)
	v := vctx.GetVariableByScopeAndName(vctx.Scope(), name)
	if v == nil {
		return nil, fmt.Errorf("model has no weight %q", key)
	}
	return v, nil
}

// Weight returns a copy of the values, as float32, of the weight key (row-major,
// PyTorch layout: linear [out, in], conv [out, in, kh, kw]) and its
// dimensions.
func (m *Model) Weight(key string) ([]float32, []int, error) {
	v, err := m.variable(key)
	if err != nil {
		return nil, nil, err
	}
	t, err := v.Value()
	if err != nil {
		return nil, nil, fmt.Errorf("weight %q: %w", key, err)
	}
	data := make([]float32, t.Shape().Size())
	dtype := t.DType()
	err = t.ConstFlatData(func(flat any) {
		switch dtype {
		case dtypes.Float32:
			copy(data, flat.([]float32))
		case dtypes.Float16:
			safetensors.HalfToFloat32(data, uint16s(flat))
		case dtypes.BFloat16:
			for i, h := range uint16s(flat) {
				data[i] = safetensors.BFloat16ToFloat32(h)
			}
		default:
			err = fmt.Errorf("weight %q is %s, not a float", key, dtype)
		}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("weight %q: %w", key, err)
	}
	return data, slices.Clone(t.Shape().Dimensions), nil
}

// SetWeight replaces the values of the weight key with data (same number of
// values, same layout as Weight returns), rounded to the weight's precision
// when it is held in half precision. Compiled pipelines read weights
// at every call, so the next generation uses the new values; SetWeight
// must not run while a generation with m is in progress.
func (m *Model) SetWeight(key string, data []float32) error {
	v, err := m.variable(key)
	if err != nil {
		return err
	}
	dims := v.Shape().Dimensions
	if n := v.Shape().Size(); n != len(data) {
		return fmt.Errorf("weight %q has %d values %v, got %d", key, n, dims, len(data))
	}
	t := tensors.FromShape(v.Shape())
	dtype := v.Shape().DType
	err = t.MutableFlatData(func(flat any) {
		switch dtype {
		case dtypes.Float32:
			copy(flat.([]float32), data)
		case dtypes.Float16, dtypes.BFloat16:
			narrow := safetensors.Float32ToFloat16
			if dtype == dtypes.BFloat16 {
				narrow = safetensors.Float32ToBFloat16
			}
			h := uint16s(flat)
			for i, x := range data {
				h[i] = narrow(x)
			}
		default:
			err = fmt.Errorf("weight %q is %s, not a float", key, dtype)
		}
	})
	if err != nil {
		return err
	}
	return v.SetValue(t)
}
