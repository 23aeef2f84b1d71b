package sdtrain

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"kata/model/safetensors"
	"kata/model/scheduler"
	"kata/model/sd"
	"kata/model/trainstate"
)

// Checkpoint tensor name prefixes and metadata keys.
const (
	ckptFormat = "kata-sdtrain-checkpoint"
	prefWeight = "w/"   // every model weight (current values)
	prefM      = "m/"   // AdamW first moments of the trained weights
	prefV      = "v/"   // AdamW second moments
	prefEMA    = "ema/" // EMA of the trained weights
	nameLosses = "losses"
)

// CheckpointPath is where a stage's checkpoint lives in dir.
func CheckpointPath(dir string, stage Stage) string {
	return filepath.Join(dir, string(stage)+".safetensors")
}

// checkpoint is the whole state of a stage between two steps.
type checkpoint struct {
	trainstate.State // steps done, AdamW's step, PCG state, settings fingerprint
	Stage            Stage
	Done             bool // the stage finished (Step == its Steps)
	ScalingFactor    float64
	Arch             Architecture
	Weights          map[string][]float32 // every model variable, by sd.VariableKey
	Shapes           map[string][]int
	M, V, EMA        map[string][]float32 // trained variables only
	Losses           []float32            // loss of every step so far
}

func saveCheckpoint(path string, c *checkpoint) error {
	var ts []safetensors.Tensor
	for key, w := range c.Weights {
		ts = append(ts, safetensors.F32Tensor(prefWeight+key, c.Shapes[key], w))
	}
	for _, part := range []struct {
		prefix string
		m      map[string][]float32
	}{{prefM, c.M}, {prefV, c.V}, {prefEMA, c.EMA}} {
		for key, v := range part.m {
			ts = append(ts, safetensors.F32Tensor(part.prefix+key, c.Shapes[key], v))
		}
	}
	ts = append(ts, safetensors.F32Tensor(nameLosses, []int{len(c.Losses)}, c.Losses))
	meta, err := archMetadata(c.Arch)
	if err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	meta["format"] = ckptFormat
	meta["stage"] = string(c.Stage)
	meta["done"] = strconv.FormatBool(c.Done)
	c.State.Put(meta)
	trainstate.PutFloat64(meta, "scaling_factor", c.ScalingFactor)
	if err := safetensors.Write(path, ts, meta); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", path, err)
	}
	return nil
}

// archMetadata stores the configs as the JSON files of a diffusers folder.
func archMetadata(a Architecture) (map[string]string, error) {
	text, err := TextConfigJSON(a.Text)
	if err != nil {
		return nil, err
	}
	unet, err := UNetConfigJSON(a.UNet)
	if err != nil {
		return nil, err
	}
	vae, err := VAEConfigJSON(a.VAE, a.ImageSize())
	if err != nil {
		return nil, err
	}
	sched, err := SchedulerConfigJSON(a.Scheduler)
	if err != nil {
		return nil, err
	}
	return map[string]string{"text_config": string(text), "unet_config": string(unet),
		"vae_config": string(vae), "scheduler_config": string(sched)}, nil
}

func loadCheckpoint(path string) (*checkpoint, error) {
	c, err := readCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
	}
	return c, nil
}

// loadCheckpointHeader reads the metadata of the checkpoint at path (its
// stage, state, architecture, scaling factor), leaving its tensors unread.
func loadCheckpointHeader(path string) (*checkpoint, error) {
	f, err := safetensors.Open(path)
	if err == nil {
		defer f.Close()
		var c *checkpoint
		if c, err = checkpointHeader(f); err == nil {
			return c, nil
		}
	}
	return nil, fmt.Errorf("load checkpoint %s: %w", path, err)
}

// checkpointHeader reads a checkpoint's metadata; its weight maps are empty.
func checkpointHeader(f *safetensors.File) (*checkpoint, error) {
	meta := f.Metadata()
	if meta["format"] != ckptFormat {
		return nil, fmt.Errorf("not a Kata model-training checkpoint")
	}
	c := &checkpoint{Stage: Stage(meta["stage"]),
		Weights: map[string][]float32{}, Shapes: map[string][]int{},
		M: map[string][]float32{}, V: map[string][]float32{}, EMA: map[string][]float32{}}
	var err error
	if _, err := ParseStage(string(c.Stage)); err != nil {
		return nil, err
	}
	if c.State, err = trainstate.Read(meta); err != nil {
		return nil, err
	}
	if c.Arch.Text, err = sd.ParseTextConfig([]byte(meta["text_config"])); err != nil {
		return nil, err
	}
	if c.Arch.UNet, err = sd.ParseUNetConfig([]byte(meta["unet_config"])); err != nil {
		return nil, err
	}
	if c.Arch.VAE, err = sd.ParseVAEConfig([]byte(meta["vae_config"])); err != nil {
		return nil, err
	}
	if c.Arch.Scheduler, err = scheduler.ParseConfig([]byte(meta["scheduler_config"])); err != nil {
		return nil, err
	}
	if c.Done, err = strconv.ParseBool(meta["done"]); err != nil {
		return nil, fmt.Errorf("done: %w", err)
	}
	if c.ScalingFactor, err = trainstate.Float64(meta, "scaling_factor"); err != nil {
		return nil, err
	}
	return c, nil
}

func readCheckpoint(path string) (*checkpoint, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := checkpointHeader(f)
	if err != nil {
		return nil, err
	}
	names := f.Names()
	sort.Strings(names)
	for _, name := range names {
		data, shape, err := f.Float32(name)
		if err != nil {
			return nil, err
		}
		if name == nameLosses {
			c.Losses = data
			continue
		}
		prefix, key, ok := strings.Cut(name, "/")
		if !ok {
			return nil, fmt.Errorf("unexpected tensor %q", name)
		}
		switch prefix + "/" {
		case prefWeight:
			c.Weights[key], c.Shapes[key] = data, shape
		case prefM:
			c.M[key] = data
		case prefV:
			c.V[key] = data
		case prefEMA:
			c.EMA[key] = data
		default:
			return nil, fmt.Errorf("unexpected tensor %q", name)
		}
	}
	for key := range c.EMA {
		if c.Weights[key] == nil || c.M[key] == nil || c.V[key] == nil {
			return nil, fmt.Errorf("trained weight %s lacks its value or optimiser state", key)
		}
	}
	if c.Step != len(c.Losses) {
		return nil, fmt.Errorf("%d losses for %d steps", len(c.Losses), c.Step)
	}
	return c, nil
}
