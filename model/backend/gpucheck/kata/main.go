// Command kata (model/backend/gpucheck/kata) is Kata's command line without
// the window: the same sub-commands as the kata binary (app.Main), built with
// cgo so that it loads PJRT plugins, but linking no Fyne, GL or X11, so that
// it starts on a headless GPU machine. `make gpu-binaries` builds it as
// gpu/kata for model/backend/gpucheck/run.sh.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"kata/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := app.Main(ctx, os.Args[1:], app.Env{Stdout: os.Stdout, Stderr: os.Stderr})
	if code < 0 {
		fmt.Fprintln(os.Stderr, "kata (gpucheck): no window in this build; give a sub-command (kata --help)")
		code = 2
	}
	stop()
	os.Exit(code)
}
