// Package placeholder holds the text rules of action identifiers, the one
// place the library, the trainer, the CLI and the window take them from:
// how an action's name becomes its trigger ("Hand stand" -> "<hand-stand>"),
// how triggers are found in prompts, the caption template slot "{}" and the
// default caption. It imports only the standard library, so store/ and
// model/ can both use it.
package placeholder

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Slot marks where the action goes in a caption template.
const Slot = "{}"

// DefaultCaption is the caption template of a photo without one.
const DefaultCaption = "a photo of a person " + Slot

// Pattern matches a trigger in a prompt: "<" letters, digits, '_', '+',
// '.', '-' ">" (first character a letter or digit).
var Pattern = regexp.MustCompile(`<[A-Za-z0-9][A-Za-z0-9_+.\-]*>`)

var whole = regexp.MustCompile(`^` + Pattern.String() + `$`)

// For returns the trigger of an action or identifier name: trimmed, lower
// case (prompts are matched lower-cased), words joined by '-', in angle
// brackets: "handstand" and "<Handstand>" -> "<handstand>", "hand stand" ->
// "<hand-stand>". A name that gives no valid trigger (empty, or characters
// other than letters, digits, '_', '-', '+', '.') is an error naming it.
func For(name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if strings.HasPrefix(n, "<") && strings.HasSuffix(n, ">") {
		n = n[1 : len(n)-1]
	}
	n = "<" + strings.Join(strings.Fields(n), "-") + ">"
	if !whole.MatchString(n) {
		return "", fmt.Errorf("name %q makes no trigger: use letters, digits, spaces, '_', '-', '+' or '.' (e.g. handstand)", name)
	}
	return n, nil
}

// Find returns the distinct triggers of prompt in order of first
// appearance, lower-cased.
func Find(prompt string) []string {
	var out []string
	for _, m := range Pattern.FindAllString(prompt, -1) {
		m = strings.ToLower(m)
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Fill puts phrase into every Slot of template.
func Fill(template, phrase string) string { return strings.ReplaceAll(template, Slot, phrase) }

// Is reports whether s is one whole trigger (any case), as Pattern matches it.
func Is(s string) bool { return whole.MatchString(s) }

// Label is how image settings name an identifier: the trigger without its
// angle brackets and the first 12 hex digits of the identifier file's
// SHA-256 ("hand-stand:0123456789ab"), as AUTOMATIC1111 names embeddings in
// "TI hashes". hash must be at least 12 characters.
func Label(trigger, hash string) string { return strings.Trim(trigger, "<>") + ":" + hash[:12] }
