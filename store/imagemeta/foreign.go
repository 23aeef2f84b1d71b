package imagemeta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
)

// PNG text keywords other tools write their settings under.
const (
	// KeyComfyPrompt is ComfyUI's API-format graph: node id -> {class_type, inputs}.
	KeyComfyPrompt = "prompt"
	// KeyComfyWorkflow is ComfyUI's editor graph (nodes and links), written beside KeyComfyPrompt.
	KeyComfyWorkflow = "workflow"
	// KeyInvokeAI is InvokeAI's (3.x and later) JSON object of settings.
	KeyInvokeAI = "invokeai_metadata"
)

// Sources of settings read from other tools (Settings.Source).
const (
	SourceComfyUI  = "ComfyUI"
	SourceInvokeAI = "InvokeAI"
)

// comfyNode is one node of ComfyUI's API-format prompt graph; an input is a
// value or a link [node id, output index].
type comfyNode struct {
	Class  string                     `json:"class_type"`
	Inputs map[string]json.RawMessage `json:"inputs"`
}

// ParseComfyUI reads the settings of ComfyUI's "prompt" graph (the API
// format ComfyUI's SaveImage node stores beside "workflow"): the first
// KSampler or KSamplerAdvanced node (by node id) gives steps, cfg, seed,
// sampler_name and scheduler (Sampler is "sampler_name" or
// "sampler_name_scheduler", e.g. "dpmpp_2m_karras", for the caller to match
// against its samplers) and denoise (Strength, when the latent comes from
// VAEEncode); the prompts are the text of the CLIPTextEncode nodes its
// positive and negative inputs link to; size from EmptyLatentImage; Model
// from CheckpointLoaderSimple's ckpt_name; Clip skip from CLIPSetLastLayer.
// Nodes it cannot map (LoRA loaders, upscalers, ControlNets, other
// samplers) are named in Ignored.
func ParseComfyUI(text string) (Settings, error) {
	var graph map[string]comfyNode
	if err := json.Unmarshal([]byte(text), &graph); err != nil {
		return Settings{Source: SourceComfyUI}, fmt.Errorf("comfyui prompt: %w", err)
	}
	return parseComfyGraph(graph, "comfyui prompt")
}

// parseComfyGraph reads an API-format graph for ParseComfyUI and
// ParseComfyWorkflow; what names the graph in errors.
func parseComfyGraph(graph map[string]comfyNode, what string) (Settings, error) {
	s := Settings{Source: SourceComfyUI}
	ids := make([]string, 0, len(graph))
	for id := range graph {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return nodeLess(ids[i], ids[j]) })
	var sampler string
	for _, id := range ids {
		if c := graph[id].Class; c == "KSampler" || c == "KSamplerAdvanced" {
			sampler = id
			break
		}
	}
	if sampler == "" {
		return s, fmt.Errorf("%s: no KSampler node: %w", what, ErrNoSettings)
	}
	used := map[string]bool{}
	var err error
	node := func(id string) comfyNode { used[id] = true; return graph[id] }
	k := node(sampler)
	num := func(n comfyNode, key string) json.Number {
		var v json.Number
		if raw, ok := n.Inputs[key]; ok && err == nil {
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if e := d.Decode(&v); e != nil {
				err = fmt.Errorf("%s: node %s input %s: %w", what, n.Class, key, e)
			}
		}
		return v
	}
	str := func(n comfyNode, key string) string {
		var v string
		_ = json.Unmarshal(n.Inputs[key], &v)
		return v
	}
	link := func(n comfyNode, key string) (string, bool) {
		var l []json.RawMessage
		if json.Unmarshal(n.Inputs[key], &l) != nil || len(l) != 2 {
			return "", false
		}
		var id string
		if json.Unmarshal(l[0], &id) != nil {
			var n int
			if json.Unmarshal(l[0], &n) != nil {
				return "", false
			}
			id = strconv.Itoa(n)
		}
		_, ok := graph[id]
		return id, ok
	}
	seedKey := "seed"
	if k.Class == "KSamplerAdvanced" {
		seedKey = "noise_seed"
	}
	if v, e := strconv.ParseInt(string(num(k, seedKey)), 10, 64); e == nil {
		s.Seed = v
	} else if string(num(k, seedKey)) != "" {
		s.Ignored = append(s.Ignored, "seed "+string(num(k, seedKey))+" (beyond Kata's seeds)")
	}
	if v, e := num(k, "steps").Int64(); e == nil {
		s.Steps = int(v)
	}
	if v, e := num(k, "cfg").Float64(); e == nil {
		s.CFG = v
	}
	s.Sampler = str(k, "sampler_name")
	if sch := str(k, "scheduler"); sch != "" && sch != "normal" && s.Sampler != "" {
		s.Sampler += "_" + sch
	}
	promptOf := func(key string) string {
		id, ok := link(k, key)
		if !ok {
			return ""
		}
		n := node(id)
		if n.Class != "CLIPTextEncode" {
			s.Ignored = append(s.Ignored, fmt.Sprintf("%s conditioning from a %s node", key, n.Class))
			return ""
		}
		if clip, ok := link(n, "clip"); ok && graph[clip].Class == "CLIPSetLastLayer" {
			c := node(clip)
			if v, e := num(c, "stop_at_clip_layer").Int64(); e == nil && v < -1 {
				if s.Extra == nil {
					s.Extra = map[string]string{}
				}
				s.Extra["Clip skip"] = strconv.FormatInt(-v, 10)
			}
		}
		return str(n, "text")
	}
	s.Prompt, s.Negative = promptOf("positive"), promptOf("negative")
	if id, ok := link(k, "latent_image"); ok {
		switch n := node(id); n.Class {
		case "EmptyLatentImage":
			w, _ := num(n, "width").Int64()
			h, _ := num(n, "height").Int64()
			s.Width, s.Height = int(w), int(h)
		case "VAEEncode":
			if v, e := num(k, "denoise").Float64(); e == nil && v < 1 {
				s.Strength = v
			}
			s.Ignored = append(s.Ignored, "the init image (image-to-image from the picture ComfyUI was given)")
		default:
			s.Ignored = append(s.Ignored, "latent from a "+n.Class+" node")
		}
	}
	// The model chain ends at the checkpoint loader, or where it loops back.
	chain := map[string]bool{}
	for id, ok := link(k, "model"); ok && !chain[id]; id, ok = link(graph[id], "model") {
		chain[id] = true
		n := node(id)
		if n.Class == "CheckpointLoaderSimple" {
			ck := str(n, "ckpt_name")
			s.Model = strings.TrimSuffix(path.Base(strings.ReplaceAll(ck, `\`, "/")), path.Ext(ck))
			break
		}
		s.Ignored = append(s.Ignored, comfyNodeName(n))
	}
	harmless := map[string]bool{"VAEDecode": true, "SaveImage": true, "PreviewImage": true, "LoadImage": true,
		"CheckpointLoaderSimple": true, "CLIPTextEncode": true}
	for _, id := range ids {
		if n := graph[id]; !used[id] && !harmless[n.Class] {
			s.Ignored = append(s.Ignored, comfyNodeName(n))
		}
	}
	return s, err
}

func comfyNodeName(n comfyNode) string {
	var name string
	for _, k := range []string{"lora_name", "ckpt_name", "model_name", "control_net_name", "vae_name"} {
		if json.Unmarshal(n.Inputs[k], &name) == nil && name != "" {
			return fmt.Sprintf("ComfyUI node %s (%s)", n.Class, name)
		}
	}
	return "ComfyUI node " + n.Class
}

// nodeLess orders node ids numerically when both are numbers.
func nodeLess(a, b string) bool {
	x, e1 := strconv.Atoi(a)
	y, e2 := strconv.Atoi(b)
	if e1 == nil && e2 == nil {
		return x < y
	}
	return a < b
}

// ParseInvokeAI reads InvokeAI's "invokeai_metadata" object: positive_prompt,
// negative_prompt, seed, steps, cfg_scale, width, height, scheduler
// (InvokeAI's names; a "_k" suffix, its Karras form, becomes "_karras"),
// model (name or model_name), clip_skip (layers skipped; A1111's Clip skip
// is one more) and, for image-to-image, strength. LoRAs, VAE, ControlNets,
// SDXL style prompts and other keys it cannot map are named in Ignored.
func ParseInvokeAI(text string) (Settings, error) {
	s := Settings{Source: SourceInvokeAI}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return s, fmt.Errorf("invokeai metadata: %w", err)
	}
	str := func(k string) string { v, _ := m[k].(string); return v }
	num := func(k string) (json.Number, bool) { v, ok := m[k].(json.Number); return v, ok }
	s.Prompt, s.Negative = str("positive_prompt"), str("negative_prompt")
	if v, ok := num("seed"); ok {
		s.Seed, _ = v.Int64()
	}
	if v, ok := num("steps"); ok {
		n, _ := v.Int64()
		s.Steps = int(n)
	}
	if v, ok := num("cfg_scale"); ok {
		s.CFG, _ = v.Float64()
	}
	if v, ok := num("width"); ok {
		n, _ := v.Int64()
		s.Width = int(n)
	}
	if v, ok := num("height"); ok {
		n, _ := v.Int64()
		s.Height = int(n)
	}
	if sch := str("scheduler"); sch != "" {
		if base, ok := strings.CutSuffix(sch, "_k"); ok {
			sch = base + "_karras"
		}
		s.Sampler = sch
	}
	if model, ok := m["model"].(map[string]any); ok {
		for _, k := range []string{"name", "model_name"} {
			if n, ok := model[k].(string); ok && n != "" {
				s.Model = n
				break
			}
		}
		if base, _ := model["base"].(string); base == "" {
			base, _ = model["base_model"].(string)
			if base != "" && base != "sd-1" {
				s.Ignored = append(s.Ignored, "the model is "+base+"; Kata runs SD 1.x")
			}
		} else if base != "sd-1" {
			s.Ignored = append(s.Ignored, "the model is "+base+"; Kata runs SD 1.x")
		}
	}
	if v, ok := num("clip_skip"); ok {
		if n, _ := v.Int64(); n > 0 {
			s.Extra = map[string]string{"Clip skip": strconv.FormatInt(n+1, 10)}
		}
	}
	if mode := str("generation_mode"); strings.Contains(mode, "img2img") || strings.Contains(mode, "inpaint") || strings.Contains(mode, "outpaint") {
		if v, ok := num("strength"); ok {
			s.Strength, _ = v.Float64()
		}
		s.Ignored = append(s.Ignored, "the init image ("+mode+")")
	}
	known := map[string]bool{"positive_prompt": true, "negative_prompt": true, "seed": true, "steps": true, "cfg_scale": true,
		"width": true, "height": true, "scheduler": true, "model": true, "clip_skip": true, "generation_mode": true,
		"strength": true, "app_version": true, "rand_device": true}
	var keys []string
	for k, v := range m {
		if known[k] || v == nil {
			continue
		}
		if l, ok := v.([]any); ok && len(l) == 0 {
			continue
		}
		if t, ok := v.(string); ok && t == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.Ignored = append(s.Ignored, "InvokeAI "+k)
	}
	return s, nil
}
