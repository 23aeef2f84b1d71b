package app

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"kata/model/lora"
	"kata/model/prompt"
	"kata/model/sd"
)

// EnvLoRADir names the environment variable that holds the LoRA folder,
// where "<lora:name:w>" prompt tags find name.safetensors (searched with its
// sub-folders, as AUTOMATIC1111 searches models/Lora).
const EnvLoRADir = "KATA_LORA_DIR"

// LoRADir is the one owner of the LoRA folder's default: setting when it
// is not empty (the --lora-dir flag, the window's choice), else
// $KATA_LORA_DIR, else none ("" : prompt tags are then an error saying how
// to set one).
func LoRADir(setting string) string {
	if setting != "" {
		return setting
	}
	return os.Getenv(EnvLoRADir)
}

// LoRAFile is a LoRA given by path with one weight for the UNet and the
// text encoder (kata generate --lora FILE[:w]).
type LoRAFile struct {
	Path   string
	Weight float64
}

// ParseLoRAFile reads "FILE" or "FILE:w" (w a number, default 1). A path
// whose last ":" is not followed by a number is a path ("C:\x.safetensors").
func ParseLoRAFile(s string) (LoRAFile, error) {
	if s == "" {
		return LoRAFile{}, errors.New("--lora: empty path")
	}
	if i := strings.LastIndex(s, ":"); i > 0 {
		if w, err := strconv.ParseFloat(s[i+1:], 64); err == nil {
			return LoRAFile{Path: s[:i], Weight: w}, nil
		}
	}
	return LoRAFile{Path: s, Weight: 1}, nil
}

// loraState is the set of LoRAs merged into one loaded model. A generation
// asks for its set with use; the weights are merged only when the set
// changes (the previous set is restored first), so repeated generations
// with the same LoRAs cost nothing. Its callers serialise it with the
// generations of the model (Kata.mu, or the one goroutine of kata
// generate): Apply and Restore never run during a Generate.
type loraState struct {
	key     string // useKey of the merged set; "" for none
	patch   *lora.Patch
	ignored map[string][]string // the merged set's Patch.Ignored
	files   map[string]cachedLoRA
}

// cachedLoRA is a loaded LoRA file with the size and time it had.
type cachedLoRA struct {
	lora *lora.LoRA
	size int64
	mod  int64
}

// load reads the LoRA file at path, reusing the loaded one while the file
// is unchanged.
func (s *loraState) load(path string) (*lora.LoRA, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	if c, ok := s.files[path]; ok && c.size == st.Size() && c.mod == st.ModTime().UnixNano() {
		return c.lora, nil
	}
	l, err := lora.Load(path)
	if err != nil {
		return nil, err
	}
	if s.files == nil {
		s.files = map[string]cachedLoRA{}
	}
	s.files[path] = cachedLoRA{l, st.Size(), st.ModTime().UnixNano()}
	return l, nil
}

func useKey(uses []lora.Use) string {
	parts := make([]string, len(uses))
	for i, u := range uses {
		parts[i] = fmt.Sprintf("%s|%s|%g|%g", u.LoRA.Path, u.LoRA.SHA256, u.TextWeight, u.UNetWeight)
	}
	return strings.Join(parts, "\n")
}

// use makes uses the LoRAs merged into m, restoring the previous set when
// it differs, and returns the layers each LoRA could not apply
// (lora.Patch.Ignored).
func (s *loraState) use(m *sd.Model, uses []lora.Use) (map[string][]string, error) {
	key := useKey(uses)
	if key == s.key {
		return s.ignored, nil
	}
	if err := s.restore(); err != nil {
		return nil, err
	}
	if len(uses) == 0 {
		return nil, nil
	}
	p, err := lora.Apply(m, uses...)
	if err != nil {
		return nil, err
	}
	s.key, s.patch, s.ignored = key, p, p.Ignored
	return p.Ignored, nil
}

// restore puts the model's own weights back (before training, or when the
// set changes). It is safe to call with nothing merged.
func (s *loraState) restore() error {
	if s.patch == nil {
		return nil
	}
	if err := s.patch.Restore(); err != nil {
		return err
	}
	s.key, s.patch, s.ignored = "", nil, nil
	return nil
}

// promptLoRAs are the LoRAs a generation asks for: the prompt's
// "<lora:name:w>" tags (looked up in dir) followed by files given by path.
type promptLoRAs struct {
	text     string     // the prompt without extra-network tags, for the text encoder
	uses     []lora.Use // in order: tags, then files
	recorded string     // the prompt as the image's settings record it
	warnings []string
}

// resolveLoRAs reads the extra-network tags of text: "<lora:...>" tags are
// found in dir (LoRADir) and loaded with s; other kinds ("<hypernet:...>")
// are removed with a warning, as Kata does not apply them. files are added
// after the tags; the recorded prompt gains a "<lora:name:w>" tag for each
// file, so that the settings reproduce the image in AUTOMATIC1111 too.
func (s *loraState) resolveLoRAs(text, dir string, files []LoRAFile) (promptLoRAs, error) {
	rest, nets := prompt.ExtractNetworks(text)
	tags, other, err := prompt.LoRAs(nets)
	if err != nil {
		return promptLoRAs{}, err
	}
	out := promptLoRAs{text: rest, recorded: text}
	for _, n := range other {
		out.warnings = append(out.warnings, fmt.Sprintf("<%s:%s> ignored: Kata applies only <lora:...> tags", n.Kind, n.Name))
	}
	for _, t := range tags {
		if dir == "" {
			return promptLoRAs{}, fmt.Errorf("<lora:%s> needs a LoRA folder: set one (kata generate --lora-dir DIR, or $%s)", t.Name, EnvLoRADir)
		}
		path, err := lora.Find(dir, t.Name)
		if err != nil {
			return promptLoRAs{}, err
		}
		l, err := s.load(path)
		if err != nil {
			return promptLoRAs{}, err
		}
		out.uses = append(out.uses, lora.Use{LoRA: l, TextWeight: t.TextWeight, UNetWeight: t.UNetWeight})
	}
	for _, f := range files {
		l, err := s.load(f.Path)
		if err != nil {
			return promptLoRAs{}, err
		}
		out.uses = append(out.uses, lora.Use{LoRA: l, TextWeight: f.Weight, UNetWeight: f.Weight})
		out.recorded += fmt.Sprintf(" <lora:%s:%s>", l.Name, strconv.FormatFloat(f.Weight, 'f', -1, 64))
	}
	return out, nil
}

// loraHashes is the "Lora hashes" value of uses: each LoRA once, in order.
func loraHashes(uses []lora.Use) string {
	var ls []*lora.LoRA
	seen := map[*lora.LoRA]bool{}
	for _, u := range uses {
		if !seen[u.LoRA] {
			seen[u.LoRA] = true
			ls = append(ls, u.LoRA)
		}
	}
	return lora.HashesParameter(ls)
}

// ignoredWarnings turns lora.Patch.Ignored into warnings, one per LoRA.
func ignoredWarnings(ignored map[string][]string) []string {
	names := make([]string, 0, len(ignored))
	for name := range ignored {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []string
	for _, name := range names {
		layers := ignored[name]
		shown := layers
		if len(shown) > 5 {
			shown = shown[:5]
		}
		more := ""
		if len(layers) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(layers)-len(shown))
		}
		out = append(out, fmt.Sprintf("lora %s: %d layers not applied (no matching weight or unsupported): %s%s",
			name, len(layers), strings.Join(shown, ", "), more))
	}
	return out
}
