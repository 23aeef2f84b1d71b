package app

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

func TestParseFlagsAnyOrder(t *testing.T) {
	for _, c := range []struct {
		args       []string
		format     string
		quality    int
		positional []string
	}{
		{[]string{"images", "DIR", "--format", "jpeg"}, "jpeg", 0, []string{"images", "DIR"}},
		{[]string{"--format=jpeg", "images", "--quality", "80", "DIR"}, "jpeg", 80, []string{"images", "DIR"}},
		{[]string{"images", "--", "--format", "x"}, "png", 0, []string{"images", "--format", "x"}},
		{nil, "png", 0, nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		format := fs.String("format", "png", "")
		quality := fs.Int("quality", 0, "")
		if err := ParseFlags(fs, c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if *format != c.format || *quality != c.quality || !slices.Equal(fs.Args(), c.positional) {
			t.Errorf("%q: format %s quality %d args %q", c.args, *format, *quality, fs.Args())
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if err := ParseFlags(fs, []string{"DIR", "--nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown flag after a positional: %v", err)
	}
}

// TestHelpEverywhere runs --help on every command and sub-command: each
// prints its usage and exits 0 without doing anything.
func TestHelpEverywhere(t *testing.T) {
	var runs [][]string
	for name := range commands {
		runs = append(runs, []string{name, "--help"})
	}
	for _, sub := range []string{"info", "check", "import", "export", "settings"} {
		runs = append(runs, []string{"library", sub, "--help"}, []string{"library", sub, "x", "-h"})
	}
	for name := range worldCommands {
		runs = append(runs, []string{"world", name, "--help"})
	}
	for _, args := range runs {
		code, stdout, stderr := runMain(args...)
		if code != 0 || !strings.Contains(stderr+stdout, "Usage: kata") {
			t.Errorf("%q: exit %d\nstdout %s\nstderr %s", args, code, stdout, stderr)
		}
	}
}
