package store

import (
	"context"
	"image/color"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"handstand", true},
		{"tai chi", true},
		{"café", true},
		{"../../etc/x", false},
		{`a\b`, false},
		{"line\nbreak", false},
		{"esc\x1b[31m", false},
		{"bad\xff", false},
		{"..", false},
		{"  ", false},
		{strings.Repeat("a", MaxNameLen+1), false},
	} {
		if err := CheckName("action name", tc.name); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.name, err)
		}
	}
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain name.png":  "plain name.png",
		"a\nb.png":        `"a\nb.png"`,
		"\x1b]0;pwn\x07":  `"\x1b]0;pwn\a"`,
		"ünïcode":         "ünïcode",
		`say "hi"`:        `"say \"hi\""`,
		"bad\xffutf8.png": `"bad\xffutf8.png"`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestQuoteText(t *testing.T) {
	for in, want := range map[string]string{
		"a photo\nNegative prompt: x\tSteps: 20": "a photo\nNegative prompt: x\tSteps: 20",
		"red \x1b[31mtext\x1b[0m":                `red \x1b[31mtext\x1b[0m`,
		"bell\a and \x9b csi":                    `bell\x07 and \x9b csi`,
		"bad \xff byte, ok \uFFFD":               "bad \\xff byte, ok \uFFFD",
	} {
		if got := QuoteText(in); got != want {
			t.Errorf("QuoteText(%q) = %q, want %q", in, got, want)
		}
	}
}

// Bad names are refused when an action is made or renamed, and an import
// whose pictures all fail leaves no empty action behind.
func TestActionNamesAndFailedImport(t *testing.T) {
	ctx := context.Background()
	l := openTemp(t)
	for _, name := range []string{"../../etc/x", "a/b", "x\ny"} {
		if _, err := l.CreateAction(ctx, Action{Name: name, Trigger: "<ok>"}); err == nil {
			t.Errorf("created action %q", name)
		}
	}
	a, err := l.CreateAction(ctx, Action{Name: "sit"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.UpdateAction(ctx, Action{ID: a.ID, Name: "../sit", Trigger: a.Trigger}); err == nil {
		t.Errorf("renamed to a path")
	}

	dir := t.TempDir()
	bad := filepath.Join(dir, "broken", "1.png")
	writeFile(t, bad, []byte("not a picture"))
	res, err := l.Import(ctx, []string{filepath.Join(dir, "broken")}, ImportOptions{})
	if err != nil || len(res.Failed) != 1 {
		t.Fatalf("import: %+v %v", res, err)
	}
	if _, err := l.ActionByName(ctx, "broken"); err == nil {
		t.Errorf("failed import left the action behind")
	}
	// Duplicates only into an existing action: the action stays.
	writeFile(t, filepath.Join(dir, "first", "1.png"), pngBytes(solid(64, 64, color.NRGBA{1, 2, 3, 255})))
	for range 2 {
		if _, err := l.Import(ctx, []string{filepath.Join(dir, "first")}, ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if es, err := l.Exemplars(ctx, mustAction(t, l, "first").ID); err != nil || len(es) != 1 {
		t.Errorf("first: %v %v", es, err)
	}
}

func mustAction(t *testing.T, l *Library, name string) Action {
	t.Helper()
	a, err := l.ActionByName(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
