package locale

import "testing"

func TestApply(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		want string // LANGUAGE afterwards
	}{
		{"debian default", map[string]string{"LANG": "C.UTF-8"}, "en"},
		{"LC_ALL wins", map[string]string{"LC_ALL": "C.utf8", "LANG": "de_DE.UTF-8"}, "en"},
		{"POSIX with modifier", map[string]string{"LANG": "POSIX@euro"}, "en"},
		{"plain C is already handled", map[string]string{"LANG": "C"}, ""},
		{"a real locale", map[string]string{"LANG": "fr_FR.UTF-8"}, ""},
		{"LC_ALL real, LANG C", map[string]string{"LC_ALL": "fr_FR.UTF-8", "LANG": "C.UTF-8"}, ""},
		{"LANGUAGE kept", map[string]string{"LANG": "C.UTF-8", "LANGUAGE": "de"}, "de"},
		{"nothing set", map[string]string{}, ""},
	} {
		env := map[string]string{}
		for k, v := range c.env {
			env[k] = v
		}
		apply(func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			func(k, v string) error { env[k] = v; return nil })
		if env["LANGUAGE"] != c.want {
			t.Errorf("%s: LANGUAGE=%q, want %q", c.name, env["LANGUAGE"], c.want)
		}
	}
}
