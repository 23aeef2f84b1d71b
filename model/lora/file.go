// Package lora loads LoRA files (low-rank weight deltas) for Stable
// Diffusion 1.x and merges them into a loaded model's weights:
//
//	W' = W + w · (alpha/rank) · up × down
//
// for linear layers (down [rank, in], up [out, rank]) and convolutions
// (down [rank, in, kh, kw], up [out, rank, 1, 1]; the product is reshaped to
// [out, in, kh, kw]), in the two layouts in use for SD 1.x:
//
//   - kohya-ss / AUTOMATIC1111: "lora_unet_<module>.lora_down.weight",
//     "lora_unet_<module>.lora_up.weight", "lora_unet_<module>.alpha" (and
//     "lora_te_" for the text encoder), where <module> is the diffusers
//     module path with "." replaced by "_" (kohya's sd-scripts networks/lora.py);
//   - diffusers / PEFT: "unet.<module>.lora_A.weight" (down),
//     "unet.<module>.lora_B.weight" (up) and "text_encoder.<module>...",
//     optionally with "<module>.alpha"; without alpha the scale is 1. The
//     layouts diffusers wrote before PEFT are read too:
//     "<module>.lora.down.weight", "<module>.lora_linear_layer.down.weight"
//     and "<attention>.processor.to_q_lora.down.weight" (attention
//     processors; "to_out_lora" is to_out.0).
package lora

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"kata/model/safetensors"
)

// Layer is the low-rank delta of one weight.
type Layer struct {
	// Name is the layer's name in the file without its tensor suffix
	// ("lora_unet_down_blocks_0_attentions_0_proj_in" or
	// "unet.down_blocks.0.attentions.0.proj_in").
	Name     string
	Down, Up []float32 // row-major, PyTorch layout
	// DownDims is [rank, in] or [rank, in, kh, kw]; UpDims [out, rank] or
	// [out, rank, 1, 1].
	DownDims, UpDims []int
	// Alpha is the file's alpha for this layer, 0 when it has none.
	Alpha float64
}

// Rank returns the inner dimension of the factorisation.
func (l *Layer) Rank() int { return l.DownDims[0] }

// Scale returns alpha/rank, or 1 when the file gives no alpha.
func (l *Layer) Scale() float64 {
	if l.Alpha == 0 {
		return 1
	}
	return l.Alpha / float64(l.Rank())
}

// Delta returns up × down as a row-major [out, in·kh·kw] matrix (without
// scale or weight), with out and in·kh·kw.
func (l *Layer) Delta() ([]float32, int, int) {
	r, out := l.Rank(), l.UpDims[0]
	cols := len(l.Down) / r
	d := make([]float32, out*cols)
	for o := range out {
		row := d[o*cols : (o+1)*cols]
		for k := range r {
			u := l.Up[o*r+k]
			if u == 0 {
				continue
			}
			for j, v := range l.Down[k*cols : (k+1)*cols] {
				row[j] += u * v
			}
		}
	}
	return d, out, cols
}

// LoRA is one loaded LoRA file.
type LoRA struct {
	// Name is the file name without extension, the name "<lora:name:w>" uses.
	Name, Path string
	Layers     []*Layer // sorted by name
	// Unsupported lists tensors that are not up/down/alpha of a plain LoRA
	// (LyCORIS LoHa/LoKr factors, DoRA scales, ...); they are not applied.
	Unsupported []string
	// SHA256 is the hex SHA-256 of the tensor data after the safetensors
	// header (kohya's and AUTOMATIC1111's "addnet" hash), or the
	// sshs_model_hash the file's metadata records, which AUTOMATIC1111
	// prefers; Hash is its first 12 digits, the value AUTOMATIC1111 writes
	// in "Lora hashes".
	SHA256, Hash string
}

// tensor suffixes of the two layouts: (down, up) pairs.
var (
	kohyaDown, kohyaUp = ".lora_down.weight", ".lora_up.weight"
	peftDown, peftUp   = ".lora_A.weight", ".lora_B.weight"
	alphaSuffix        = ".alpha"
	// diffusers before PEFT: "<module>.lora.down.weight",
	// "<module>.lora_linear_layer.down.weight" (text encoder) and attention
	// processors "<attention>.processor.to_q_lora.down.weight"
	oldDown, oldUp = ".down.weight", ".up.weight"
)

// Load reads a LoRA .safetensors file. Every layer must have both factors
// with matching ranks; a file with no LoRA layer at all is an error.
func Load(path string) (*LoRA, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load lora: %w", err)
	}
	defer f.Close()
	l, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("load lora %s: %w", path, err)
	}
	l.Path = path
	l.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	// kohya's sd-scripts store the hash in the metadata (sshs_model_hash),
	// and AUTOMATIC1111 takes it from there when present.
	if h := strings.ToLower(strings.TrimSpace(f.Metadata()["sshs_model_hash"])); len(h) == 64 && isHex(h) {
		l.SHA256 = h
	} else if l.SHA256, err = AddnetHash(path); err != nil {
		return nil, err
	}
	l.Hash = l.SHA256[:12]
	return l, nil
}

func read(f *safetensors.File) (*LoRA, error) {
	type pair struct{ down, up, alpha string }
	layers := map[string]*pair{}
	get := func(name string) *pair {
		p, ok := layers[name]
		if !ok {
			p = &pair{}
			layers[name] = p
		}
		return p
	}
	out := &LoRA{}
	for _, n := range f.Names() {
		switch {
		case strings.HasSuffix(n, kohyaDown):
			get(strings.TrimSuffix(n, kohyaDown)).down = n
		case strings.HasSuffix(n, peftDown):
			get(strings.TrimSuffix(n, peftDown)).down = n
		case strings.HasSuffix(n, kohyaUp):
			get(strings.TrimSuffix(n, kohyaUp)).up = n
		case strings.HasSuffix(n, peftUp):
			get(strings.TrimSuffix(n, peftUp)).up = n
		case strings.HasSuffix(n, alphaSuffix):
			get(strings.TrimSuffix(n, alphaSuffix)).alpha = n
		case strings.HasSuffix(n, oldDown):
			get(strings.TrimSuffix(n, oldDown)).down = n
		case strings.HasSuffix(n, oldUp):
			get(strings.TrimSuffix(n, oldUp)).up = n
		default:
			out.Unsupported = append(out.Unsupported, n)
		}
	}
	names := make([]string, 0, len(layers))
	for n := range layers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p := layers[name]
		if p.down == "" && p.up == "" {
			// an alpha alone (LyCORIS layers keep one beside other factors)
			out.Unsupported = append(out.Unsupported, p.alpha)
			continue
		}
		if p.down == "" || p.up == "" {
			return nil, fmt.Errorf("layer %s has only one of its two factors", name)
		}
		l := &Layer{Name: name}
		var err error
		if l.Down, l.DownDims, err = f.Float32(p.down); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", p.down, err)
		}
		if l.Up, l.UpDims, err = f.Float32(p.up); err != nil {
			return nil, fmt.Errorf("tensor %s: %w", p.up, err)
		}
		if err := checkFactors(l); err != nil {
			return nil, fmt.Errorf("layer %s: %w", name, err)
		}
		if p.alpha != "" {
			a, _, err := f.Float32(p.alpha)
			if err != nil || len(a) != 1 {
				return nil, fmt.Errorf("tensor %s: alpha must be one number (%v)", p.alpha, err)
			}
			l.Alpha = float64(a[0])
		}
		out.Layers = append(out.Layers, l)
	}
	sort.Strings(out.Unsupported)
	if len(out.Layers) == 0 {
		return nil, fmt.Errorf("no LoRA layers (want *.lora_down.weight/*.lora_up.weight or *.lora_A.weight/*.lora_B.weight; %d other tensors)", len(out.Unsupported))
	}
	return out, nil
}

func checkFactors(l *Layer) error {
	d, u := l.DownDims, l.UpDims
	switch {
	case len(d) != len(u) || (len(d) != 2 && len(d) != 4):
		return fmt.Errorf("down %v and up %v are not both linear (2-D) or both conv (4-D) factors", d, u)
	case d[0] < 1 || u[1] != d[0]:
		return fmt.Errorf("down %v and up %v disagree on the rank", d, u)
	case len(u) == 4 && (u[2] != 1 || u[3] != 1):
		return fmt.Errorf("up %v is not a 1x1 convolution", u)
	}
	return nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// AddnetHash returns the hex SHA-256 of a safetensors file's bytes after
// its header (8-byte little-endian header length, then the header): the
// hash kohya's sd-scripts and AUTOMATIC1111 compute for LoRA files, which
// does not change when only the metadata is edited.
func AddnetHash(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("lora hash: %w", err)
	}
	defer fh.Close()
	var n uint64
	if err := binary.Read(fh, binary.LittleEndian, &n); err != nil {
		return "", fmt.Errorf("lora hash %s: no safetensors header: %w", path, err)
	}
	if _, err := fh.Seek(int64(n)+8, io.SeekStart); err != nil {
		return "", fmt.Errorf("lora hash %s: %w", path, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", fmt.Errorf("lora hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HashesParameter formats AUTOMATIC1111's "Lora hashes" value for the
// given LoRAs, "name: hash, name: hash" in order, with ":" and "," removed
// from names as AUTOMATIC1111 does (the PNG writer quotes the value).
func HashesParameter(loras []*LoRA) string {
	parts := make([]string, len(loras))
	clean := strings.NewReplacer(":", "", ",", "")
	for i, l := range loras {
		parts[i] = clean.Replace(l.Name) + ": " + l.Hash
	}
	return strings.Join(parts, ", ")
}
