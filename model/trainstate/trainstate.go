// Package trainstate holds what Kata's training checkpoints share: the state
// of a run between two steps that lives in a checkpoint's safetensors
// metadata (steps done, the optimiser's step, the random source's state, the
// settings fingerprint, exact float64s). model/adi (identifier training) and
// model/sdtrain (model training) write their own tensors and keys beside it;
// the keys and encodings here are part of their file formats and must not
// change.
package trainstate

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Metadata keys of State.
const (
	KeyStep        = "step"
	KeyAdamStep    = "adam_step"
	KeyRNG         = "rng"
	KeyFingerprint = "fingerprint"
)

// State is the run state every Kata trainer checkpoints beside its tensors:
// what resuming needs, besides the tensors, to continue exactly as if the
// run had never stopped.
type State struct {
	Step        int    // optimiser steps done (decimal, key "step")
	AdamStep    int    // AdamW updates applied (decimal, key "adam_step")
	RNG         []byte // PCG state, rand.PCG.MarshalBinary (standard base64, key "rng")
	Fingerprint string // settings that must match to resume (as is, key "fingerprint")
}

// Put writes s into meta under its four keys.
func (s State) Put(meta map[string]string) {
	meta[KeyStep] = strconv.Itoa(s.Step)
	meta[KeyAdamStep] = strconv.Itoa(s.AdamStep)
	meta[KeyRNG] = base64.StdEncoding.EncodeToString(s.RNG)
	meta[KeyFingerprint] = s.Fingerprint
}

// Read reads the State that Put wrote into meta. The RNG state must be one
// rand.PCG accepts. Errors name the key.
func Read(meta map[string]string) (State, error) {
	s := State{Fingerprint: meta[KeyFingerprint]}
	var err error
	for _, kv := range []struct {
		key string
		dst *int
	}{{KeyStep, &s.Step}, {KeyAdamStep, &s.AdamStep}} {
		if *kv.dst, err = strconv.Atoi(meta[kv.key]); err != nil {
			return State{}, fmt.Errorf("%s: %w", kv.key, err)
		}
	}
	if s.RNG, err = base64.StdEncoding.DecodeString(meta[KeyRNG]); err != nil {
		return State{}, fmt.Errorf("%s: %w", KeyRNG, err)
	}
	if err := new(rand.PCG).UnmarshalBinary(s.RNG); err != nil {
		return State{}, fmt.Errorf("%s: %w", KeyRNG, err)
	}
	return s, nil
}

// PutFloat64 stores v in meta under key exactly: the hexadecimal digits of
// its IEEE 754 bits, lower case, without leading zeros.
func PutFloat64(meta map[string]string, key string, v float64) {
	meta[key] = strconv.FormatUint(math.Float64bits(v), 16)
}

// Float64 reads the value PutFloat64 stored under key. Errors name the key.
func Float64(meta map[string]string, key string) (float64, error) {
	bits, err := strconv.ParseUint(meta[key], 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return math.Float64frombits(bits), nil
}
