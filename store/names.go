package store

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest action, subject or identifier name the library
// takes, in bytes.
const MaxNameLen = 200

// CheckName refuses a name the library cannot use safely as a folder or file
// name on export or print raw to a terminal: empty, longer than MaxNameLen
// bytes, not UTF-8, holding a path separator ('/' or '\'), a control
// character (newline, escape, ...), or being "." or "..". what names the kind
// of thing in the error ("action name").
func CheckName(what, name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return fmt.Errorf("empty %s", what)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%s is %d bytes long, at most %d", what, len(name), MaxNameLen)
	case !utf8.ValidString(name):
		return fmt.Errorf("%s %s is not valid UTF-8", what, Quote(name))
	case name == "." || name == "..":
		return fmt.Errorf("%s %s is not a name", what, Quote(name))
	}
	for _, r := range name {
		switch {
		case r == '/' || r == '\\':
			return fmt.Errorf("%s %s holds a path separator %q", what, Quote(name), r)
		case unicode.IsControl(r) || r == utf8.RuneError:
			return fmt.Errorf("%s %s holds a control character %U", what, Quote(name), r)
		}
	}
	return nil
}

// Quote returns s as it is safe to print on a terminal: unchanged when it is
// printable text without quotes or backslashes, otherwise Go-quoted, so that
// newlines and escape sequences in file names and prompts show as \n and
// \x1b rather than acting.
func Quote(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r == '"' || r == '\\' || !unicode.IsPrint(r) && r != ' ' {
			return strconv.Quote(s)
		}
	}
	return s
}

// QuoteText returns multi-line text (a prompt, settings text) safe to print
// on a terminal: newlines and tabs stay, every other control character and
// each invalid UTF-8 byte become \xNN, so an escape sequence cannot act.
func QuoteText(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t' || !unicode.IsControl(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}
