package adi

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"kata/model/safetensors"
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
	meta := map[string]string{
		metaFormat:    "checkpoint",
		metaVersion:   strconv.Itoa(FormatVersion),
		"step":        strconv.Itoa(c.Step),
		"adam_step":   strconv.Itoa(c.Adam.Step),
		"rng":         base64.StdEncoding.EncodeToString(c.RNG),
		"smoothed":    strconv.FormatUint(math.Float64bits(c.Smoothed), 16),
		"fingerprint": c.Fingerprint,
	}
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
	c := &Checkpoint{Fingerprint: meta["fingerprint"]}
	var shape []int
	if c.Vectors, shape, err = f.Float32(ckptVectors); err != nil {
		return nil, err
	}
	if len(shape) != 2 {
		return nil, fmt.Errorf("vectors shaped %v", shape)
	}
	c.Lv, c.D = shape[0], shape[1]
	c.Adam = NewAdamW(adam, c.Lv*c.D)
	for _, t := range []struct {
		name string
		dst  []float32
	}{{ckptAdamM, c.Adam.M}, {ckptAdamV, c.Adam.V}} {
		if err := f.Float32Into(t.name, t.dst); err != nil {
			return nil, err
		}
	}
	if c.Step, err = strconv.Atoi(meta["step"]); err != nil {
		return nil, fmt.Errorf("step: %w", err)
	}
	if c.Adam.Step, err = strconv.Atoi(meta["adam_step"]); err != nil {
		return nil, fmt.Errorf("adam_step: %w", err)
	}
	if c.RNG, err = base64.StdEncoding.DecodeString(meta["rng"]); err != nil {
		return nil, fmt.Errorf("rng: %w", err)
	}
	if err := new(rand.PCG).UnmarshalBinary(c.RNG); err != nil {
		return nil, fmt.Errorf("rng: %w", err)
	}
	bits, err := strconv.ParseUint(meta["smoothed"], 16, 64)
	if err != nil {
		return nil, fmt.Errorf("smoothed loss: %w", err)
	}
	c.Smoothed = math.Float64frombits(bits)
	return c, nil
}
