package imagemeta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// comfyWidgets names the widgets_values of the ComfyUI nodes ParseComfyUI
// reads or names, in the order ComfyUI's editor saves them. comfyControl
// marks the editor's own "control after generate" widget (saved after a seed
// as "fixed", "increment", "decrement" or "randomize"); it is skipped when the
// saved value is not one of those (older editors did not save it).
var comfyWidgets = map[string][]string{
	"KSampler":               {"seed", comfyControl, "steps", "cfg", "sampler_name", "scheduler", "denoise"},
	"KSamplerAdvanced":       {"add_noise", "noise_seed", comfyControl, "steps", "cfg", "sampler_name", "scheduler", "start_at_step", "end_at_step", "return_with_leftover_noise"},
	"CheckpointLoaderSimple": {"ckpt_name"},
	"CLIPTextEncode":         {"text"},
	"CLIPSetLastLayer":       {"stop_at_clip_layer"},
	"EmptyLatentImage":       {"width", "height", "batch_size"},
	"LoraLoader":             {"lora_name", "strength_model", "strength_clip"},
	"LoraLoaderModelOnly":    {"lora_name", "strength_model"},
	"VAELoader":              {"vae_name"},
	"ControlNetLoader":       {"control_net_name"},
	"UpscaleModelLoader":     {"model_name"},
	"LoadImage":              {"image", "upload"},
	"SaveImage":              {"filename_prefix"},
}

const comfyControl = "control_after_generate"

// Node modes of ComfyUI's editor: a muted node does not run, a bypassed one
// passes its inputs through to its outputs of the same type.
const (
	comfyModeMuted    = 2
	comfyModeBypassed = 4
)

// comfyUINode is one node of ComfyUI's editor ("workflow") graph.
type comfyUINode struct {
	ID     json.RawMessage `json:"id"`
	Type   string          `json:"type"`
	Mode   int             `json:"mode"`
	Inputs []struct {
		Name   string          `json:"name"`
		Type   string          `json:"type"`
		Link   *int64          `json:"link"`
		Widget json.RawMessage `json:"widget"`
	} `json:"inputs"`
	Widgets json.RawMessage `json:"widgets_values"`
}

// comfyLink is one edge of the editor graph: output slot FromSlot of node
// From feeds an input of another node.
type comfyLink struct {
	From     string
	FromSlot int
	Type     string
}

// ParseComfyWorkflow reads the settings of ComfyUI's editor graph, the
// "workflow" chunk, for pictures saved without the API-format "prompt" graph
// (ParseComfyUI): nodes with their inputs, links and widgets_values (the
// widget values in the editor's order, named for the nodes ParseComfyUI
// reads; see comfyWidgets). Links through Reroute and bypassed nodes are
// followed, muted nodes left out; the graph is then read as ParseComfyUI
// reads "prompt". Both link forms are read: arrays [id, from, from slot, to,
// to slot, type] and objects {id, origin_id, origin_slot, type}.
func ParseComfyWorkflow(text string) (Settings, error) {
	var wf struct {
		Nodes []comfyUINode     `json:"nodes"`
		Links []json.RawMessage `json:"links"`
	}
	if err := json.Unmarshal([]byte(text), &wf); err != nil {
		return Settings{Source: SourceComfyUI}, fmt.Errorf("comfyui workflow: %w", err)
	}
	links := make(map[int64]comfyLink, len(wf.Links))
	for i, raw := range wf.Links {
		id, l, err := parseComfyLink(raw)
		if err != nil {
			return Settings{Source: SourceComfyUI}, fmt.Errorf("comfyui workflow: link #%d: %w", i, err)
		}
		links[id] = l
	}
	nodes := make(map[string]*comfyUINode, len(wf.Nodes))
	for i := range wf.Nodes {
		n := &wf.Nodes[i]
		id, err := comfyID(n.ID)
		if err != nil {
			return Settings{Source: SourceComfyUI}, fmt.Errorf("comfyui workflow: node #%d id: %w", i, err)
		}
		nodes[id] = n
	}
	// resolve follows a link back through Reroute and bypassed nodes to the
	// node that computes it (at most one hop per node: cycles end).
	resolve := func(l comfyLink) (comfyLink, bool) {
		for range len(nodes) + 1 {
			n, ok := nodes[l.From]
			if !ok || n.Mode == comfyModeMuted {
				return l, false
			}
			if n.Type != "Reroute" && n.Mode != comfyModeBypassed {
				return l, true
			}
			next, found := comfyLink{}, false
			for _, in := range n.Inputs {
				if in.Link == nil || (n.Type != "Reroute" && in.Type != l.Type) {
					continue
				}
				if next, found = links[*in.Link]; found {
					break
				}
			}
			if !found {
				return l, false
			}
			next.Type = l.Type
			l = next
		}
		return l, false
	}
	graph := make(map[string]comfyNode, len(nodes))
	for id, n := range nodes {
		if n.Mode == comfyModeMuted || n.Mode == comfyModeBypassed || n.Type == "Reroute" || n.Type == "PrimitiveNode" {
			continue
		}
		inputs := comfyWidgetInputs(n)
		for _, in := range n.Inputs {
			if in.Link == nil {
				continue
			}
			l, ok := links[*in.Link]
			if !ok {
				continue
			}
			if l, ok = resolve(l); !ok {
				continue
			}
			if len(in.Widget) > 0 && nodes[l.From].Type == "PrimitiveNode" {
				continue // the value is kept in this node's widgets_values
			}
			inputs[in.Name], _ = json.Marshal([]any{l.From, l.FromSlot})
		}
		graph[id] = comfyNode{Class: n.Type, Inputs: inputs}
	}
	return parseComfyGraph(graph, "comfyui workflow")
}

// comfyWidgetInputs names a node's widgets_values with comfyWidgets; the
// values of nodes not listed there are left out.
func comfyWidgetInputs(n *comfyUINode) map[string]json.RawMessage {
	inputs := map[string]json.RawMessage{}
	names := comfyWidgets[n.Type]
	var values []json.RawMessage
	if len(names) == 0 || json.Unmarshal(n.Widgets, &values) != nil {
		return inputs // absent, or an object (some custom nodes save one)
	}
	for _, name := range names {
		if len(values) == 0 {
			break
		}
		if name == comfyControl {
			var v string
			if json.Unmarshal(values[0], &v) == nil && (v == "fixed" || v == "increment" || v == "decrement" || v == "randomize") {
				values = values[1:]
			}
			continue
		}
		inputs[name], values = values[0], values[1:]
	}
	return inputs
}

// parseComfyLink reads one link in either of the editor's forms.
func parseComfyLink(raw json.RawMessage) (int64, comfyLink, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var a []json.RawMessage
		if err := json.Unmarshal(raw, &a); err != nil {
			return 0, comfyLink{}, err
		}
		if len(a) < 3 {
			return 0, comfyLink{}, fmt.Errorf("%d fields, want at least 3", len(a))
		}
		var l comfyLink
		var id int64
		if err := json.Unmarshal(a[0], &id); err != nil {
			return 0, l, fmt.Errorf("id: %w", err)
		}
		from, err := comfyID(a[1])
		if err != nil {
			return 0, l, fmt.Errorf("origin: %w", err)
		}
		if err := json.Unmarshal(a[2], &l.FromSlot); err != nil {
			return 0, l, fmt.Errorf("origin slot: %w", err)
		}
		l.From = from
		if len(a) > 5 {
			_ = json.Unmarshal(a[5], &l.Type) // "*" or absent for untyped links
		}
		return id, l, nil
	}
	var o struct {
		ID     int64           `json:"id"`
		Origin json.RawMessage `json:"origin_id"`
		Slot   int             `json:"origin_slot"`
		Type   json.RawMessage `json:"type"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return 0, comfyLink{}, err
	}
	from, err := comfyID(o.Origin)
	if err != nil {
		return 0, comfyLink{}, fmt.Errorf("origin: %w", err)
	}
	l := comfyLink{From: from, FromSlot: o.Slot}
	_ = json.Unmarshal(o.Type, &l.Type)
	return o.ID, l, nil
}

// comfyID reads a node id, a number or a string, as the string ParseComfyUI
// keys its graph with.
func comfyID(raw json.RawMessage) (string, error) {
	var n int64
	if err := json.Unmarshal(raw, &n); err == nil {
		return strconv.FormatInt(n, 10), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", fmt.Errorf("not a number or a string: %.40s", raw)
	}
	return s, nil
}
