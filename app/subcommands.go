package app

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// subcommand is one sub-command of a command group (`kata world render`,
// `kata bench actions`). Files in this package add theirs from an init
// function, as top-level commands do with Register.
type subcommand struct {
	Name    string // word typed after the group's name
	Summary string // one line for `kata GROUP --help`
	Run     func(ctx context.Context, env Env, args []string) error
}

// commandGroup is a top-level command whose first argument picks one of its
// sub-commands.
type commandGroup struct {
	name string
	subs map[string]subcommand
}

func newCommandGroup(name string) *commandGroup {
	return &commandGroup{name: name, subs: map[string]subcommand{}}
}

// add registers a sub-command; a duplicate is a programming error.
func (g *commandGroup) add(c subcommand) {
	if _, dup := g.subs[c.Name]; dup {
		panic("app: " + g.name + " command registered twice: " + c.Name)
	}
	g.subs[c.Name] = c
}

func (g *commandGroup) usage() string {
	names := make([]string, 0, len(g.subs))
	for n := range g.subs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "SUBCOMMAND [flags] [args]\n\nSubcommands (kata %s SUBCOMMAND --help for flags):\n", g.name)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-13s %s\n", n, g.subs[n].Summary)
	}
	return b.String()
}

// run dispatches args[0] to its sub-command with the remaining arguments.
func (g *commandGroup) run(ctx context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, g.name, g.usage())
	if err := ParseCommandFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: missing subcommand", ErrUsage)
	}
	sub := fs.Arg(0)
	c, ok := g.subs[sub]
	if !ok {
		fs.Usage()
		return fmt.Errorf("%w: unknown subcommand %q", ErrUsage, sub)
	}
	return c.Run(ctx, env, fs.Args()[1:])
}
