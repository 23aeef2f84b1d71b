package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

func init() {
	Register(Command{
		Name:    "world",
		Summary: "Kata World: render exemplar sets and sheets, judge images, train the built-in model",
		Run:     runWorld,
	})
}

// worldCommand is one `kata world` sub-command. Files in this package add
// theirs with registerWorld from an init function, as top-level commands do
// with Register.
type worldCommand struct {
	Name    string // word typed after `kata world`
	Summary string // one line for `kata world --help`
	Run     func(ctx context.Context, env Env, args []string) error
}

var worldCommands = map[string]worldCommand{}

// registerWorld adds a `kata world` sub-command; a duplicate is a programming error.
func registerWorld(c worldCommand) {
	if _, dup := worldCommands[c.Name]; dup {
		panic("app: world command registered twice: " + c.Name)
	}
	worldCommands[c.Name] = c
}

func worldUsage() string {
	names := make([]string, 0, len(worldCommands))
	for n := range worldCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("SUBCOMMAND [flags] [args]\n\nSubcommands (kata world SUBCOMMAND --help for flags):\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-13s %s\n", n, worldCommands[n].Summary)
	}
	return b.String()
}

func runWorld(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "world", worldUsage())
	if err := ParseCommandFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: missing subcommand", ErrUsage)
	}
	sub := fs.Arg(0)
	c, ok := worldCommands[sub]
	if !ok {
		fs.Usage()
		return fmt.Errorf("%w: unknown subcommand %q", ErrUsage, sub)
	}
	return c.Run(ctx, env, fs.Args()[1:])
}
