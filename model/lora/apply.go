package lora

import (
	"fmt"
	"sort"
	"strings"

	"kata/model/sd"
)

// Use is one LoRA applied with a weight for the text encoder's layers and
// one for the UNet's (AUTOMATIC1111's "<lora:name:te:unet>"; usually equal).
type Use struct {
	LoRA                   *LoRA
	TextWeight, UNetWeight float64
}

// Patch is a set of LoRAs merged into a model's weights; Restore puts the
// original weights back.
type Patch struct {
	model *sd.Model
	orig  map[string][]float32
	// Changed lists the model weights that were changed, sorted.
	Changed []string
	// Ignored lists, per LoRA name, the layers and tensors that were not
	// applied because no model weight matches them or their kind is not
	// supported; empty when every layer applied.
	Ignored map[string][]string
}

// Target returns the model weight key a LoRA layer name refers to, given
// the model's weight keys (sd.Model.WeightDims) and UNet config, and
// whether one matches. kohya names ("lora_unet_<module>",
// "lora_te_<module>") are compared with "." replaced by "_" in the model's
// diffusers module paths, or, for UNet layers named after the LDM modules
// ("lora_unet_input_blocks_1_1_proj_in"), translated with the model's
// single-file name mapping (unet may be nil to skip those); diffusers/PEFT
// names ("unet.<module>", "text_encoder.<module>", optionally behind
// "base_model.model.") are compared as they are.
func Target(layer string, weights map[string][]int, unet *sd.UNetConfig) (string, bool) {
	return newIndex(weights, unet).target(layer)
}

type index struct {
	weights map[string][]int
	unet    *sd.UNetConfig
	kohya   map[string]string // "lora_unet_down_blocks_0_..." -> key
}

func newIndex(weights map[string][]int, unet *sd.UNetConfig) *index {
	ix := &index{weights: weights, unet: unet, kohya: map[string]string{}}
	for key, dims := range weights {
		if !strings.HasSuffix(key, ".weight") || (len(dims) != 2 && len(dims) != 4) {
			continue
		}
		component, module, _ := strings.Cut(strings.TrimSuffix(key, ".weight"), "/")
		var prefix string
		switch component {
		case sd.ComponentUNet:
			prefix = "lora_unet_"
		case sd.ComponentText:
			prefix = "lora_te_"
		default:
			continue
		}
		ix.kohya[prefix+strings.ReplaceAll(module, ".", "_")] = key
	}
	return ix
}

func (ix *index) target(layer string) (string, bool) {
	if key, ok := ix.kohya[layer]; ok {
		return key, true
	}
	if key, ok := ix.ldmTarget(layer); ok {
		return key, true
	}
	name := diffusersModule(strings.TrimPrefix(layer, "base_model.model."))
	for _, c := range []struct{ prefix, component string }{
		{"unet.", sd.ComponentUNet}, {"text_encoder.", sd.ComponentText},
	} {
		if rest, ok := strings.CutPrefix(name, c.prefix); ok {
			key := c.component + "/" + rest + ".weight"
			_, found := ix.weights[key]
			return key, found
		}
	}
	// Attention-processor files name UNet modules without a prefix.
	for _, component := range []string{sd.ComponentUNet, sd.ComponentText} {
		key := component + "/" + name + ".weight"
		if _, found := ix.weights[key]; found {
			return key, true
		}
	}
	return "", false
}

// diffusersModule turns the layer names of diffusers' pre-PEFT layouts
// into module paths: "x.to_q.lora" and "x.q_proj.lora_linear_layer" lose
// their last part, "attn1.processor.to_q_lora" becomes "attn1.to_q" and
// "to_out_lora" "to_out.0".
func diffusersModule(name string) string {
	name = strings.TrimSuffix(strings.TrimSuffix(name, ".lora_linear_layer"), ".lora")
	attn, proc, ok := strings.Cut(name, ".processor.")
	if !ok {
		return name
	}
	proc = strings.TrimSuffix(proc, "_lora")
	if proc == "to_out" {
		proc = "to_out.0"
	}
	return attn + "." + proc
}

// Apply merges the LoRAs of uses into m's weights, in order, each layer as
// W += weight · (alpha/rank) · up × down, where weight is the use's UNet or
// text-encoder weight depending on the layer. A LoRA none of whose layers
// match a weight of m is an error (it was made for another model family, or
// in a layout this package does not read), and so is a matched layer whose
// shape does not fit its weight; in both cases m is left unchanged. Layers
// that match nothing while others do are listed in Patch.Ignored. m must
// not be generating while Apply or Restore runs.
func Apply(m *sd.Model, uses ...Use) (*Patch, error) {
	ix := newIndex(m.WeightDims(), m.UNet)
	type job struct {
		layer  *Layer
		key    string
		weight float64
	}
	var jobs []job
	p := &Patch{model: m, orig: map[string][]float32{}, Ignored: map[string][]string{}}
	for _, u := range uses {
		matched := 0
		ignored := append([]string(nil), u.LoRA.Unsupported...)
		for _, l := range u.LoRA.Layers {
			key, ok := ix.target(l.Name)
			if !ok {
				ignored = append(ignored, l.Name)
				continue
			}
			if err := fits(l, ix.weights[key]); err != nil {
				return nil, fmt.Errorf("lora %s: layer %s on %s: %w", u.LoRA.Name, l.Name, key, err)
			}
			w := u.UNetWeight
			if strings.HasPrefix(key, sd.ComponentText+"/") {
				w = u.TextWeight
			}
			jobs = append(jobs, job{l, key, w})
			matched++
		}
		if matched == 0 {
			first := ""
			if len(u.LoRA.Layers) > 0 {
				first = " (first: " + u.LoRA.Layers[0].Name + ")"
			}
			return nil, fmt.Errorf("lora %s: none of its %d layers match a weight of this model%s: "+
				"not a Stable Diffusion 1.x LoRA, or a layout Kata does not read", u.LoRA.Name, len(u.LoRA.Layers), first)
		}
		if len(ignored) > 0 {
			sort.Strings(ignored)
			p.Ignored[u.LoRA.Name] = ignored
		}
	}
	current := map[string][]float32{}
	for _, j := range jobs {
		w, ok := current[j.key]
		if !ok {
			orig, _, err := m.Weight(j.key)
			if err != nil {
				return nil, fmt.Errorf("lora: %w", err)
			}
			p.orig[j.key] = orig
			w = append([]float32(nil), orig...)
			current[j.key] = w
		}
		delta, _, _ := j.layer.Delta()
		s := float32(j.weight * j.layer.Scale())
		for i, d := range delta {
			w[i] += s * d
		}
	}
	for key, w := range current {
		if err := m.SetWeight(key, w); err != nil {
			_ = p.Restore()
			return nil, fmt.Errorf("lora: %w", err)
		}
		p.Changed = append(p.Changed, key)
	}
	sort.Strings(p.Changed)
	return p, nil
}

// fits checks that the layer's product has the weight's shape: [out, in]
// for a linear weight, [out, in, kh, kw] for a convolution (a 1x1
// convolution and a linear layer of the same sizes are interchangeable).
func fits(l *Layer, dims []int) error {
	out, cols := l.UpDims[0], len(l.Down)/l.Rank()
	n := 1
	for _, d := range dims[1:] {
		n *= d
	}
	if dims[0] != out || n != cols {
		return fmt.Errorf("up %v × down %v does not fit a weight of shape %v", l.UpDims, l.DownDims, dims)
	}
	if len(l.DownDims) == 4 && len(dims) == 4 && (l.DownDims[2] != dims[2] || l.DownDims[3] != dims[3]) {
		return fmt.Errorf("down kernel %v does not fit weight kernel %v", l.DownDims, dims)
	}
	return nil
}

// Restore puts back the weights Apply changed. It is safe to call twice.
func (p *Patch) Restore() error {
	for key, w := range p.orig {
		if err := p.model.SetWeight(key, w); err != nil {
			return fmt.Errorf("lora restore: %w", err)
		}
		delete(p.orig, key)
	}
	return nil
}
