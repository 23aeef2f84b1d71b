package actionfolder

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Templates are the caption templates of a text.json: either a list given to
// the pictures in natural order, or lists keyed by picture name, stem or
// number.
type Templates struct {
	List  []string            // list form: the template of the i-th picture
	ByKey map[string][]string // object form: key -> its templates (a single one is a list of one)
}

// ParseTemplates reads a text.json: a JSON list of templates, or an object
// whose values are a template or a non-empty list of templates.
func ParseTemplates(data []byte) (*Templates, error) {
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		return &Templates{List: list}, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, errors.New("want a JSON list of caption templates or an object of picture name -> template or list of templates")
	}
	t := &Templates{ByKey: make(map[string][]string, len(obj))}
	for k, raw := range obj {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			t.ByKey[k] = []string{s}
			continue
		}
		var ss []string
		if json.Unmarshal(raw, &ss) == nil && len(ss) > 0 {
			t.ByKey[k] = ss
			continue
		}
		return nil, fmt.Errorf("entry %q is neither a template nor a non-empty list of them", k)
	}
	return t, nil
}

// Lookup returns the template of the picture named name (a base name), the
// index-th in natural order: List[index] in list form; in object form the
// first template under its name ("01.jpg"), else its stem ("01"), else its
// number ("1").
func (t *Templates) Lookup(name string, index int) (string, bool) {
	if t.ByKey == nil {
		if index >= 0 && index < len(t.List) {
			return t.List[index], true
		}
		return "", false
	}
	s := strings.TrimSuffix(name, filepath.Ext(name))
	for _, k := range []string{name, s, trimZeros(s)} {
		if ts, ok := t.ByKey[k]; ok {
			return ts[0], true
		}
	}
	return "", false
}

func trimZeros(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" && s != "" {
		return "0"
	}
	return t
}

// NaturalLess orders names with digit runs compared as numbers: "2.png"
// before "10.png", "img9" before "img10".
func NaturalLess(a, b string) bool { return naturalCompare(a, b) < 0 }

func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			na, ra := digitRun(a)
			nb, rb := digitRun(b)
			ta, tb := trimZeros(na), trimZeros(nb)
			if len(ta) != len(tb) {
				return cmp.Compare(len(ta), len(tb))
			}
			if ta != tb {
				return strings.Compare(ta, tb)
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(int(a[0]), int(b[0]))
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitRun(s string) (string, string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
