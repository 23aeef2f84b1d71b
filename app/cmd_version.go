package app

import (
	"context"
	"fmt"
	"runtime"

	"kata/model/backend"
)

// Version is Kata's release, kept equal to FyneApp.toml's Version (a test checks).
const Version = "0.1.0"

func init() {
	Register(Command{
		Name:    "version",
		Summary: "print Kata's version, the Go version and the compute backend",
		Run:     runVersion,
	})
}

func runVersion(_ context.Context, env Env, args []string) error {
	fs := NewFlagSet(env, "version", "")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	sel := backend.Resolve("")
	fmt.Fprintf(env.Stdout, "kata %s\n", Version)
	fmt.Fprintf(env.Stdout, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(env.Stdout, "backend %s (%s)\n", sel.Name, sel.Reason)
	return nil
}
