// Package scheduler holds the diffusion noise schedules and samplers of
// Stable Diffusion 1.x on host float32 slices: the DDPM training schedule
// (betas, alphas_cumprod, AddNoise); DDIM, Euler, Euler ancestral and
// DPM++ 2M (optionally with Karras sigmas) following diffusers v0.27
// numerically; k-diffusion's Euler, Euler a, Heun, LMS, DPM2, DPM2 a,
// DPM++ 2M, DPM++ SDE and DPM++ 2M SDE on AUTOMATIC1111's schedule types
// (KDiffusion, ScheduleTypes); and UniPC with AUTOMATIC1111's settings.
// One table (table.go) names them all, in Kata's canonical ids and
// AUTOMATIC1111's display names. Latents are small (4x64x64 for a 512 px
// image), so no accelerator is needed here; randomness is always passed in
// explicitly so that a seed reproduces an image exactly.
package scheduler

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is a diffusers scheduler_config.json. Unset fields keep the values
// of DefaultConfig when read with LoadConfig or ParseConfig.
type Config struct {
	NumTrainTimesteps int       `json:"num_train_timesteps"`
	BetaStart         float64   `json:"beta_start"`
	BetaEnd           float64   `json:"beta_end"`
	BetaSchedule      string    `json:"beta_schedule"`    // "scaled_linear", "linear" or "squaredcos_cap_v2"
	TrainedBetas      []float64 `json:"trained_betas"`    // overrides the schedule when set
	PredictionType    string    `json:"prediction_type"`  // "epsilon", "v_prediction" or "sample"
	TimestepSpacing   string    `json:"timestep_spacing"` // "leading", "trailing" or "linspace"
	StepsOffset       int       `json:"steps_offset"`
	SetAlphaToOne     bool      `json:"set_alpha_to_one"` // DDIM: alpha_cumprod used past t=0
	ClipSample        bool      `json:"clip_sample"`      // DDIM: clamp the x0 prediction
	ClipSampleRange   float64   `json:"clip_sample_range"`
	Thresholding      bool      `json:"thresholding"`           // unsupported (refused)
	RescaleZeroSNR    bool      `json:"rescale_betas_zero_snr"` // unsupported (refused)
}

// DefaultConfig returns the scheduler configuration of Stable Diffusion 1.x
// (runwayml/stable-diffusion-v1-5): 1000 steps, scaled_linear betas
// 0.00085..0.012, epsilon prediction, leading spacing with steps_offset 1,
// set_alpha_to_one false.
func DefaultConfig() Config {
	return Config{
		NumTrainTimesteps: 1000,
		BetaStart:         0.00085,
		BetaEnd:           0.012,
		BetaSchedule:      "scaled_linear",
		PredictionType:    "epsilon",
		TimestepSpacing:   "leading",
		StepsOffset:       1,
		ClipSampleRange:   1,
	}
}

// ParseConfig reads a scheduler_config.json document over DefaultConfig.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("scheduler config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// LoadConfig reads the scheduler_config.json at path.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("scheduler config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// Validate reports settings this package cannot reproduce.
func (c Config) Validate() error {
	if c.TrainedBetas != nil {
		if len(c.TrainedBetas) < 2 || len(c.TrainedBetas) > 100000 {
			return fmt.Errorf("scheduler config: %d trained betas", len(c.TrainedBetas))
		}
		for _, b := range c.TrainedBetas {
			if !(b > 0 && b < 1) {
				return fmt.Errorf("scheduler config: trained beta %g outside (0, 1)", b)
			}
		}
	} else {
		if c.NumTrainTimesteps < 2 || c.NumTrainTimesteps > 100000 {
			return fmt.Errorf("scheduler config: num_train_timesteps %d out of range", c.NumTrainTimesteps)
		}
		switch c.BetaSchedule {
		case "scaled_linear", "linear":
			if !(c.BetaStart > 0 && c.BetaEnd < 1 && c.BetaStart <= c.BetaEnd) {
				return fmt.Errorf("scheduler config: betas %g..%g not within (0, 1)", c.BetaStart, c.BetaEnd)
			}
		case "squaredcos_cap_v2":
		default:
			return fmt.Errorf("scheduler config: unsupported beta_schedule %q", c.BetaSchedule)
		}
	}
	switch c.PredictionType {
	case "epsilon", "v_prediction", "sample":
	default:
		return fmt.Errorf("scheduler config: unsupported prediction_type %q", c.PredictionType)
	}
	switch c.TimestepSpacing {
	case "leading", "trailing", "linspace":
	default:
		return fmt.Errorf("scheduler config: unsupported timestep_spacing %q", c.TimestepSpacing)
	}
	if c.StepsOffset < 0 {
		return fmt.Errorf("scheduler config: negative steps_offset %d", c.StepsOffset)
	}
	if c.Thresholding {
		return fmt.Errorf("scheduler config: dynamic thresholding is not supported")
	}
	if c.RescaleZeroSNR {
		return fmt.Errorf("scheduler config: rescale_betas_zero_snr is not supported")
	}
	return nil
}
