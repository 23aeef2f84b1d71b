// Command kata is Kata's one binary: with no arguments it opens the window,
// otherwise it runs a sub-command (kata --help lists them).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"kata/app"
	_ "kata/app/locale" // before Fyne starts: no "Error parsing user locale C"
	"kata/ui"
)

// appID must equal FyneApp.toml's ID: preferences and storage live under it.
const appID = "app.kata.desktop"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := app.Env{Stdout: os.Stdout, Stderr: os.Stderr}
	// Fyne's GLFW driver locks the main goroutine to the main OS thread at
	// start-up; a sub-command runs on its own goroutine so that its compute
	// is not tied to that thread.
	done := make(chan int)
	go func() { done <- app.Main(ctx, os.Args[1:], env) }()
	if code := <-done; code >= 0 {
		os.Exit(code)
	}
	os.Exit(runWindow(ctx))
}

// runWindow opens the main window and returns the exit status once it closes.
// SIGINT and SIGTERM quit the window cleanly.
func runWindow(ctx context.Context) int {
	a := fyneapp.NewWithID(appID)
	a.SetIcon(iconResource())
	k, err := openLibrary(a)
	if err != nil {
		os.Stderr.WriteString("kata: " + err.Error() + "\n")
		return 1
	}
	defer k.Close()
	w := ui.NewMainWindow(a, k, nativePicker{})
	go func() {
		<-ctx.Done()
		fyne.Do(w.Quit) // Fyne's calls belong on its goroutine
	}()
	w.Window().ShowAndRun()
	return 0
}

// openLibrary opens $KATA_LIBRARY, else the folder chosen in Settings, else
// the default library.
func openLibrary(a fyne.App) (*app.Kata, error) {
	if dir := a.Preferences().String(ui.PrefLibrary); dir != "" && app.Getenv("KATA_LIBRARY") == "" {
		return app.Open(dir)
	}
	return app.OpenDefault()
}
