package imagemeta

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Settings are the generation settings an image carries.
//
// Zero values mean "not set" except for Seed and CFG, which are always written.
// Strength is the img2img denoising strength; 0 means text-to-image.
// Identifiers hold the learned action identifiers used, each "name:hash" or a
// file name. Extra keeps any other "Key: value" pair of the parameters text
// (for example A1111's "Version" or "Schedule type") so reading and writing an
// image back keeps them.
type Settings struct {
	Prompt      string   `json:"prompt"`
	Negative    string   `json:"negative,omitempty"`
	Steps       int      `json:"steps,omitempty"`
	Sampler     string   `json:"sampler,omitempty"`
	CFG         float64  `json:"cfg"`
	Seed        int64    `json:"seed"`
	Width       int      `json:"width,omitempty"`
	Height      int      `json:"height,omitempty"`
	Model       string   `json:"model,omitempty"`
	ModelHash   string   `json:"model_hash,omitempty"`
	Identifiers []string `json:"identifiers,omitempty"`
	Strength    float64  `json:"strength,omitempty"`
	// ScheduleType is AUTOMATIC1111 1.9+'s "Schedule type" ("Karras"),
	// written after Sampler; empty for none.
	ScheduleType string `json:"schedule_type,omitempty"`
	// VAE and VAEHash name an external VAE as AUTOMATIC1111 does ("VAE":
	// its file name, "VAE hash": the first 10 hex digits of its SHA-256);
	// empty for the checkpoint's own.
	VAE     string `json:"vae,omitempty"`
	VAEHash string `json:"vae_hash,omitempty"`
	// LoraHashes is AUTOMATIC1111's "Lora hashes" value, "name: hash, ..."
	// (lora.HashesParameter), written quoted; empty for none.
	LoraHashes string            `json:"lora_hashes,omitempty"`
	Extra      map[string]string `json:"extra,omitempty"`

	// Source names the tool the settings were read from when it was not
	// AUTOMATIC1111 or Kata (SourceComfyUI, SourceInvokeAI), and Ignored
	// what of that tool's settings has no place here (LoRA nodes, an init
	// image...), for the user to see. Neither is written.
	Source  string   `json:"-"`
	Ignored []string `json:"-"`
}

// ErrNoSettings is returned when an image carries no generation settings.
var ErrNoSettings = errors.New("no generation settings in image")

// Keys of the parameters line that map to Settings fields. Anything else goes
// to Settings.Extra.
const (
	keySteps       = "Steps"
	keySampler     = "Sampler"
	keyCFG         = "CFG scale"
	keySeed        = "Seed"
	keySize        = "Size"
	keyModelHash   = "Model hash"
	keyModel       = "Model"
	keyStrength    = "Denoising strength"
	keyIdentifiers = "Identifiers"
	keyTIHashes    = "TI hashes" // A1111's list of textual-inversion embeddings "name: hash, ..."
	keySchedule    = "Schedule type"
	keyVAE         = "VAE"
	keyVAEHash     = "VAE hash"
	keyLoraHashes  = "Lora hashes"
	negativePrefix = "Negative prompt:"
)

// Parameters renders s in the AUTOMATIC1111 "parameters" format:
//
//	prompt
//	Negative prompt: negative
//	Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1, Size: 512x512, Model hash: ..., Model: ..., Denoising strength: 0.75, TI hashes: "handstand: 0123456789ab"
//
// Identifiers given as "name:hash" are written as A1111's "TI hashes" (the
// list A1111 writes for the embeddings a prompt used and Civitai reads,
// each "name: hash" with the first 12 hex digits of the file's SHA-256);
// any without a hash go to "Identifiers".
// Steps, CFG scale and Seed are always written so that readers (A1111 needs at
// least three pairs) recognise the last line as settings, not prompt. Extra
// keys A1111 could not read back (see its key pattern: a word character, then
// words, spaces, '-' or '/') are left out; identifiers must not hold commas.
func (s Settings) Parameters() string {
	var b strings.Builder
	b.WriteString(s.Prompt)
	b.WriteByte('\n')
	if s.Negative != "" {
		b.WriteString(negativePrefix + " " + s.Negative + "\n")
	}
	var pairs []string
	add := func(k, v string) { pairs = append(pairs, k+": "+quoteValue(v)) }
	add(keySteps, strconv.Itoa(s.Steps))
	if s.Sampler != "" {
		add(keySampler, s.Sampler)
	}
	if s.ScheduleType != "" {
		add(keySchedule, s.ScheduleType)
	}
	add(keyCFG, formatFloat(s.CFG))
	add(keySeed, strconv.FormatInt(s.Seed, 10))
	if s.Width > 0 && s.Height > 0 {
		add(keySize, fmt.Sprintf("%dx%d", s.Width, s.Height))
	}
	if s.ModelHash != "" {
		add(keyModelHash, s.ModelHash)
	}
	if s.Model != "" {
		add(keyModel, s.Model)
	}
	if s.VAEHash != "" {
		add(keyVAEHash, s.VAEHash)
	}
	if s.VAE != "" {
		add(keyVAE, s.VAE)
	}
	if s.Strength != 0 {
		add(keyStrength, formatFloat(s.Strength))
	}
	var hashed, plain []string
	for _, id := range s.Identifiers {
		if name, hash, ok := strings.Cut(id, ":"); ok {
			hashed = append(hashed, strings.TrimSpace(name)+": "+strings.TrimSpace(hash))
		} else {
			plain = append(plain, id)
		}
	}
	if len(hashed) > 0 {
		add(keyTIHashes, strings.Join(hashed, ", "))
	}
	if len(plain) > 0 {
		add(keyIdentifiers, strings.Join(plain, ", "))
	}
	if s.LoraHashes != "" {
		// A1111 always quotes it (it holds ": ").
		b, _ := json.Marshal(s.LoraHashes)
		pairs = append(pairs, keyLoraHashes+": "+string(b))
	}
	keys := make([]string, 0, len(s.Extra))
	for k := range s.Extra {
		if validKey(k) && !knownKey(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(k, s.Extra[k])
	}
	b.WriteString(strings.Join(pairs, ", "))
	return b.String()
}

// reParam is A1111's pattern for one "Key: value" pair of the settings line
// (modules/infotext_utils.py); quoted values are JSON strings.
var reParam = regexp.MustCompile(`\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)`)

var reKey = regexp.MustCompile(`^\w[\w \-/]+$`)

func validKey(k string) bool { return reKey.MatchString(k) }

func knownKey(k string) bool {
	switch k {
	case keySteps, keySampler, keyCFG, keySeed, keySize, keyModelHash, keyModel, keyStrength, keyIdentifiers, keyTIHashes,
		keySchedule, keyVAE, keyVAEHash, keyLoraHashes:
		return true
	}
	return false
}

// ParseParameters reads an AUTOMATIC1111 "parameters" text back into Settings,
// the way A1111 does: the last line is the settings line when it holds at least
// three "Key: value" pairs, a line starting with "Negative prompt:" starts the
// negative prompt, and everything before it is the prompt. Unknown keys land in
// Extra. It fails on empty text and on malformed numbers in known keys.
func ParseParameters(text string) (Settings, error) {
	var s Settings
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n"))
	if text == "" {
		return s, fmt.Errorf("parameters: %w", ErrNoSettings)
	}
	lines := strings.Split(text, "\n")
	last := lines[len(lines)-1]
	pairs := reParam.FindAllStringSubmatch(last, -1)
	if len(pairs) >= 3 {
		lines = lines[:len(lines)-1]
	} else {
		pairs = nil
	}
	var prompt, negative []string
	inNegative := false
	for _, line := range lines {
		if strings.HasPrefix(line, negativePrefix) {
			inNegative = true
			line = strings.TrimSpace(line[len(negativePrefix):])
		}
		if inNegative {
			negative = append(negative, line)
		} else {
			prompt = append(prompt, line)
		}
	}
	s.Prompt = strings.Join(prompt, "\n")
	s.Negative = strings.Join(negative, "\n")
	for _, p := range pairs {
		key, value := strings.TrimSpace(p[1]), unquoteValue(strings.TrimSpace(p[2]))
		if err := s.set(key, value); err != nil {
			return s, fmt.Errorf("parameters: %s %q: %w", key, value, err)
		}
	}
	return s, nil
}

// set stores one pair of the settings line.
func (s *Settings) set(key, value string) error {
	var err error
	switch key {
	case keySteps:
		s.Steps, err = strconv.Atoi(value)
	case keySampler:
		s.Sampler = value
	case keyCFG:
		s.CFG, err = strconv.ParseFloat(value, 64)
	case keySeed:
		s.Seed, err = strconv.ParseInt(value, 10, 64)
	case keySize:
		w, h, ok := strings.Cut(value, "x")
		if !ok {
			return errors.New("want WIDTHxHEIGHT")
		}
		if s.Width, err = strconv.Atoi(strings.TrimSpace(w)); err == nil {
			s.Height, err = strconv.Atoi(strings.TrimSpace(h))
		}
	case keyModelHash:
		s.ModelHash = value
	case keyModel:
		s.Model = value
	case keyStrength:
		s.Strength, err = strconv.ParseFloat(value, 64)
	case keyIdentifiers:
		s.Identifiers = appendList(s.Identifiers, value, false)
	case keyTIHashes:
		s.Identifiers = appendList(s.Identifiers, value, true)
	case keySchedule:
		s.ScheduleType = value
	case keyVAE:
		s.VAE = value
	case keyVAEHash:
		s.VAEHash = value
	case keyLoraHashes:
		s.LoraHashes = value
	default:
		if s.Extra == nil {
			s.Extra = map[string]string{}
		}
		s.Extra[key] = value
	}
	return err
}

// appendList splits a comma-separated list. A1111's "TI hashes" entries read
// "name: hash"; Kata writes identifiers as "name:hash".
func appendList(dst []string, value string, tiHashes bool) []string {
	for _, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if tiHashes {
			if name, hash, ok := strings.Cut(item, ":"); ok {
				item = strings.TrimSpace(name) + ":" + strings.TrimSpace(hash)
			}
		}
		dst = append(dst, item)
	}
	return dst
}

// quoteValue quotes like A1111's quote(): values holding ',', ':' or a newline
// (or starting with a quote) become JSON strings.
func quoteValue(v string) string {
	if !strings.ContainsAny(v, ",:\n") && !strings.HasPrefix(v, `"`) {
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func unquoteValue(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		var out string
		if json.Unmarshal([]byte(v), &out) == nil {
			return out
		}
	}
	return v
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
