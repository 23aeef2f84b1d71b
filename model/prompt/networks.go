package prompt

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Network is an extra-network tag of AUTOMATIC1111's syntax,
// "<kind:name:arg:arg...>", such as "<lora:add_detail:0.8>".
type Network struct {
	Kind string   // "lora", "hypernet", ...; as written
	Name string   // the file name without extension, as written
	Args []string // the arguments after the name, as written
}

// LoRA is a "<lora:name[:te[:unet]]>" tag read the way AUTOMATIC1111's
// built-in Lora extension reads it: the first number is the text-encoder
// weight, the second the UNet weight (default: the first); both default to
// 1. Named arguments "te=w" and "unet=w" set them explicitly.
type LoRA struct {
	Name                   string
	TextWeight, UNetWeight float64
}

// extraNetwork is AUTOMATIC1111's re_extra_net: "<", a word, ":", anything
// up to ">".
var extraNetwork = regexp.MustCompile(`<(\w+):([^>]+)>`)

// ExtractNetworks removes every extra-network tag from text and returns the
// remaining text and the tags in order of appearance. Learned-identifier
// triggers such as "<handstand>" have no colon and stay in the text.
func ExtractNetworks(text string) (string, []Network) {
	var nets []Network
	rest := extraNetwork.ReplaceAllStringFunc(text, func(tag string) string {
		m := extraNetwork.FindStringSubmatch(tag)
		args := strings.Split(m[2], ":")
		nets = append(nets, Network{Kind: m[1], Name: args[0], Args: args[1:]})
		return ""
	})
	return rest, nets
}

// LoRAs reads the "lora" tags of nets (kind compared case-sensitively, as
// AUTOMATIC1111 does) and returns them with their weights, and the tags of
// other kinds, which Kata does not apply (the caller warns about them).
func LoRAs(nets []Network) (loras []LoRA, other []Network, err error) {
	for _, n := range nets {
		if n.Kind != "lora" {
			other = append(other, n)
			continue
		}
		l, err := parseLoRA(n)
		if err != nil {
			return nil, nil, err
		}
		loras = append(loras, l)
	}
	return loras, other, nil
}

func parseLoRA(n Network) (LoRA, error) {
	l := LoRA{Name: strings.TrimSpace(n.Name), TextWeight: 1, UNetWeight: 1}
	if l.Name == "" {
		return LoRA{}, fmt.Errorf("prompt: <lora:...> tag without a name")
	}
	var positional []float64
	unetSet := false
	for _, a := range n.Args {
		key, val, named := strings.Cut(a, "=")
		if !named {
			val = a
		}
		w, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return LoRA{}, fmt.Errorf("prompt: <lora:%s:...>: weight %q is not a number", n.Name, val)
		}
		switch {
		case !named:
			positional = append(positional, w)
		case strings.TrimSpace(key) == "te":
			l.TextWeight = w
		case strings.TrimSpace(key) == "unet":
			l.UNetWeight, unetSet = w, true
		default:
			return LoRA{}, fmt.Errorf("prompt: <lora:%s:...>: unknown argument %q (want te= or unet=)", n.Name, key)
		}
	}
	if len(positional) > 2 {
		return LoRA{}, fmt.Errorf("prompt: <lora:%s:...> has %d weights, want at most 2", n.Name, len(positional))
	}
	if len(positional) > 0 {
		l.TextWeight = positional[0]
		if !unetSet {
			l.UNetWeight = positional[0]
		}
	}
	if len(positional) > 1 {
		l.UNetWeight = positional[1]
	}
	return l, nil
}
