//go:build ignore

// gen_samples writes the sample exemplar sets of samples.go:
//
//	CGO_ENABLED=0 go run assets/gen_samples.go
//
// from the repository root. It runs `kata world render` for each set.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"kata/app"
	"kata/assets"
)

func main() {
	for _, a := range assets.SampleActions {
		dir := filepath.Join("assets", "samples", a)
		args := []string{"world", "render", "--action", a, "--out", dir, "--force",
			"--seed", strconv.FormatUint(assets.SampleSeed, 10), "--size", strconv.Itoa(assets.SampleSize)}
		if code := app.Main(context.Background(), args, app.Env{Stdout: os.Stdout, Stderr: os.Stderr}); code != 0 {
			fmt.Fprintf(os.Stderr, "gen_samples: %s failed\n", a)
			os.Exit(code)
		}
	}
}
