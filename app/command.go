package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Env is what a sub-command may touch besides its arguments.
type Env struct {
	Stdout, Stderr io.Writer
}

// Command is one `kata` sub-command. Files in this package add theirs with
// Register from an init function, so each feature keeps its CLI beside its code.
type Command struct {
	Name    string // word typed after `kata`
	Summary string // one line for `kata --help`
	// Run executes the command. ctx is cancelled on Ctrl-C.
	Run func(ctx context.Context, env Env, args []string) error
}

var commands = map[string]Command{}

// Register adds a sub-command; a duplicate name is a programming error.
func Register(c Command) {
	if _, dup := commands[c.Name]; dup {
		panic("app: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

// ErrUsage marks an error caused by wrong arguments: Main prints it with the
// command's help and exits with status 2.
var ErrUsage = errors.New("usage")

// Main runs the sub-command named by args[0] and returns the process exit status.
// With no arguments it returns -1: the caller opens the window instead.
func Main(ctx context.Context, args []string, env Env) int {
	if len(args) == 0 {
		return -1
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help", "help":
		PrintHelp(env.Stdout)
		return 0
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "kata: unknown command %q\n\n", name)
		PrintHelp(env.Stderr)
		return 2
	}
	stopProfile, err := startProfile(Getenv(profileEnv))
	if err != nil {
		fmt.Fprintf(env.Stderr, "kata %s: %s: %v\n", name, profileEnv, err)
		return 1
	}
	err = runCancellable(ctx, name, env.Stderr, func() error { return cmd.Run(ctx, env, args[1:]) })
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(env.Stderr, "kata %s: %v\n", name, err)
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintf(env.Stderr, "kata %s: cancelled\n", name)
		return 130
	default:
		fmt.Fprintf(env.Stderr, "kata %s: %v\n", name, err)
		return 1
	}
}

// PrintHelp lists the sub-commands.
func PrintHelp(w io.Writer) {
	fmt.Fprintln(w, "Kata learns actions from a few photos and puts them in new images.")
	fmt.Fprintln(w, "\nUsage:\n  kata              open the window\n  kata COMMAND ...  run a command (kata COMMAND --help for its flags)")
	fmt.Fprintln(w, "\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].Summary)
	}
}

// NewFlagSet returns a FlagSet for a sub-command that reports errors instead of
// exiting, and prints its defaults to env.Stderr on --help.
func NewFlagSet(env Env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("kata "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: kata %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// ParseFlags parses args and wraps a parse error in ErrUsage. Flags may
// come before, between or after the positional arguments, as users of
// other command-line tools expect (`export images DIR --format jpeg`);
// everything after "--" is positional. fs.Args() holds the positional
// arguments in order. -h and --help print the usage and return
// flag.ErrHelp.
func ParseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := parse(fs, args); err != nil {
			return err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		positional, args = append(positional, rest[0]), rest[1:]
	}
	return parse(fs, append([]string{"--"}, positional...))
}

// ParseCommandFlags parses the flags before a sub-command word, for a
// command that dispatches on it (kata library, kata world): parsing stops at
// the first positional argument, and fs.Args() is the sub-command and its
// own arguments, untouched.
func ParseCommandFlags(fs *flag.FlagSet, args []string) error { return parse(fs, args) }

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return nil
}

// Getenv reads a Kata setting from the environment, trimmed.
func Getenv(name string) string { return strings.TrimSpace(os.Getenv(name)) }
