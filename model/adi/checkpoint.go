package adi

import (
	"fmt"
	"strconv"

	"kata/model/safetensors"
	"kata/model/trainstate"
)

// Checkpoint is the whole state of a training run between two steps: what
// resuming needs to continue exactly as if it had never stopped.
type Checkpoint struct {
	Step        int       // optimiser steps done
	Vectors     []float32 // [Lv*D] current identifier vectors
	Lv, D       int       // vector count and width
	Adam        *AdamW    // optimiser moments and step
	RNG         []byte    // PCG state (rand.PCG.MarshalBinary)
	Smoothed    float64   // smoothed loss so far
	Fingerprint string    // settings that must match to resume
}

const (
	ckptVectors = "vectors"
	ckptAdamM   = "adam_m"
	ckptAdamV   = "adam_v"
	// ckptSmoothed is the metadata key of the smoothed loss.
	ckptSmoothed = "smoothed"
)

// SaveCheckpoint writes c atomically (a crash leaves the previous file).
func SaveCheckpoint(path string, c *Checkpoint) error {
	n := c.Lv * c.D
	if len(c.Vectors) != n || len(c.Adam.M) != n || len(c.Adam.V) != n {
		return fmt.Errorf("checkpoint: sizes do not match %dx%d", c.Lv, c.D)
	}
	ts := []safetensors.Tensor{
		safetensors.F32Tensor(ckptVectors, []int{c.Lv, c.D}, c.Vectors),
		safetensors.F32Tensor(ckptAdamM, []int{c.Lv, c.D}, c.Adam.M),
		safetensors.F32Tensor(ckptAdamV, []int{c.Lv, c.D}, c.Adam.V),
	}
	meta := map[string]string{metaFormat: "checkpoint", metaVersion: strconv.Itoa(FormatVersion)}
	trainstate.State{Step: c.Step, AdamStep: c.Adam.Step, RNG: c.RNG, Fingerprint: c.Fingerprint}.Put(meta)
	trainstate.PutFloat64(meta, ckptSmoothed, c.Smoothed)
	if err := safetensors.Write(path, ts, meta); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return nil
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint; adam carries
// the optimiser's hyper-parameters (they are settings, not state).
func LoadCheckpoint(path string, adam AdamWConfig) (*Checkpoint, error) {
	c, err := loadCheckpoint(path, adam)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return c, nil
}

func loadCheckpoint(path string, adam AdamWConfig) (*Checkpoint, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	meta := f.Metadata()
	if meta[metaFormat] != "checkpoint" {
		return nil, fmt.Errorf("not a Kata training checkpoint")
	}
	st, err := trainstate.Read(meta)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Step: st.Step, RNG: st.RNG, Fingerprint: st.Fingerprint}
	if c.Smoothed, err = trainstate.Float64(meta, ckptSmoothed); err != nil {
		return nil, err
	}
	var shape []int
	if c.Vectors, shape, err = f.Float32(ckptVectors); err != nil {
		return nil, err
	}
	if len(shape) != 2 {
		return nil, fmt.Errorf("vectors shaped %v", shape)
	}
	c.Lv, c.D = shape[0], shape[1]
	c.Adam = NewAdamW(adam, c.Lv*c.D)
	c.Adam.Step = st.AdamStep
	for _, t := range []struct {
		name string
		dst  []float32
	}{{ckptAdamM, c.Adam.M}, {ckptAdamV, c.Adam.V}} {
		if err := f.Float32Into(t.name, t.dst); err != nil {
			return nil, err
		}
	}
	return c, nil
}
