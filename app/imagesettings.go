package app

import (
	"fmt"

	"kata/model/scheduler"
	"kata/store"
)

// ImageSettings are the generation settings an image file carries, as Kata
// can use them again ("use these settings again", a picture dropped on the
// gallery, kata library settings): from Kata's or AUTOMATIC1111's PNG/JPEG
// text, or from ComfyUI's or InvokeAI's metadata.
type ImageSettings struct {
	Prompt, Negative string
	Seed             uint64
	HasSeed          bool   // false: the image names no usable seed (A1111's -1, none)
	Steps            int    // 0: not given
	Sampler          string // Kata's canonical sampler name; "" when not given or not one Kata has
	// SamplerLabel and ScheduleType are Sampler as the window's menus and
	// GenerateRequest name it: AUTOMATIC1111's sampler name and schedule
	// type label ("DPM++ 2M", "Karras"; "Automatic" for the sampler's own).
	SamplerLabel, ScheduleType string
	CFG                        float64 // 0: not given
	Width, Height              int
	Model                      string // the model's name in the image (a file name without extension)
	// Source is the tool whose metadata was read: "Kata or AUTOMATIC1111",
	// "ComfyUI" or "InvokeAI".
	Source string
	// Ignored names what the image's settings hold that Kata does not use
	// (LoRA nodes, an init image, an unknown sampler...), one entry each.
	Ignored []string
}

// ReadImageSettings reads the settings of the PNG or JPEG at path. An image
// without settings gives an error wrapping imagemeta.ErrNoSettings.
func ReadImageSettings(path string) (ImageSettings, error) {
	s, err := store.ReadSettings(path)
	if err != nil {
		return ImageSettings{}, err
	}
	out := ImageSettings{Prompt: s.Prompt, Negative: s.Negative, Steps: s.Steps, CFG: s.CFG, Width: s.Width,
		Height: s.Height, Model: s.Model, Source: s.Source, Ignored: s.Ignored}
	if out.Source == "" {
		out.Source = "Kata or AUTOMATIC1111"
	}
	if s.Seed >= 0 {
		out.Seed, out.HasSeed = uint64(s.Seed), true
	} else {
		out.Ignored = append(out.Ignored, fmt.Sprintf("seed %d (a random one)", s.Seed))
	}
	if s.Sampler != "" {
		c, err := scheduler.Canonical(s.Sampler, firstNonEmpty(s.ScheduleType, s.Extra["Schedule type"]))
		if err != nil {
			out.Ignored = append(out.Ignored, fmt.Sprintf("sampler %q, which Kata does not have (%s is used)", s.Sampler, scheduler.Default))
		} else {
			out.Sampler = c
			label, schedule := scheduler.Infotext(c)
			if own, err := scheduler.Canonical(label, ""); (err == nil && own == c) || schedule == "" {
				schedule = "Automatic"
			}
			out.SamplerLabel, out.ScheduleType = label, schedule
		}
	}
	return out, nil
}
