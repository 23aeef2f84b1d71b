package app

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestWorldDispatch(t *testing.T) {
	var got []string
	registerWorld(worldCommand{Name: "test-echo", Summary: "echo for the test", Run: func(_ context.Context, _ Env, args []string) error {
		got = args
		return nil
	}})
	defer delete(worldCommands, "test-echo")

	tests := []struct {
		name   string
		args   []string
		status int
		stderr string
	}{
		{"runs the sub-command with its args", []string{"world", "test-echo", "--x", "1"}, 0, ""},
		{"no sub-command is a usage error", []string{"world"}, 2, "missing subcommand"},
		{"unknown sub-command is a usage error", []string{"world", "nope"}, 2, `unknown subcommand "nope"`},
		{"help lists the sub-commands", []string{"world", "--help"}, 0, "test-echo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			status := Main(context.Background(), tc.args, Env{Stdout: &out, Stderr: &errb})
			if status != tc.status {
				t.Fatalf("status %d, want %d; stderr: %s", status, tc.status, errb.String())
			}
			if !strings.Contains(errb.String(), tc.stderr) {
				t.Fatalf("stderr %q does not contain %q", errb.String(), tc.stderr)
			}
		})
	}
	if strings.Join(got, " ") != "--x 1" {
		t.Fatalf("sub-command got args %q", got)
	}
}
