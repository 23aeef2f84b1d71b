package app

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/model/sd/sdtest"
)

// TestWorldEvalAndGrid runs both commands end to end on the tiny fixture
// model (random weights: the numbers mean nothing, the plumbing is checked).
func TestWorldEvalAndGrid(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb}
	sheet := filepath.Join(dir, "eval.png")
	code := Main(context.Background(), []string{"world", "eval", "--model", sdtest.TinyDir(), "--n", "3", "--free", "2", "--steps", "2", "--sheet", sheet, "--backend", "go"}, env)
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"3 prompts naming", "kind right", "2 prompts naming no action", "* handstand"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("eval output lacks %q:\n%s", want, out.String())
		}
	}
	if st, err := os.Stat(sheet); err != nil || st.Size() == 0 {
		t.Errorf("eval sheet: %v", err)
	}
	// The pure-Go default draws 2 images at once; one at a time must give
	// the same report and the same sheet, byte for byte.
	concurrentOut := out.String()
	out.Reset()
	serialSheet := filepath.Join(dir, "eval-serial.png")
	code = Main(context.Background(), []string{"world", "eval", "--model", sdtest.TinyDir(), "--n", "3", "--free", "2", "--steps", "2", "--sheet", serialSheet, "--backend", "go", "--concurrent", "1"}, env)
	if code != 0 {
		t.Fatalf("eval --concurrent 1 exit %d: %s", code, errb.String())
	}
	a, errA := os.ReadFile(sheet)
	b, errB := os.ReadFile(serialSheet)
	if out.String() != concurrentOut || errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("one image at a time differs from two at once (sheets equal: %v):\n%s\nagainst\n%s", bytes.Equal(a, b), out.String(), concurrentOut)
	}
	grid := filepath.Join(dir, "grid.png")
	out.Reset()
	errb.Reset()
	code = Main(context.Background(), []string{"world", "grid", "--model", sdtest.TinyDir(), "--prompt", "a blue robot", "--side", "2", "--steps", "2", "--out", grid, "--backend", "go"}, env)
	if code != 0 {
		t.Fatalf("grid exit %d: %s", code, errb.String())
	}
	if st, err := os.Stat(grid); err != nil || st.Size() == 0 {
		t.Errorf("grid: %v", err)
	}
	// Two rows at once (the pure-Go default) and one at a time: the same PNG.
	serialGrid := filepath.Join(dir, "grid-serial.png")
	code = Main(context.Background(), []string{"world", "grid", "--model", sdtest.TinyDir(), "--prompt", "a blue robot", "--side", "2", "--steps", "2", "--out", serialGrid, "--backend", "go", "--concurrent", "1"}, env)
	if code != 0 {
		t.Fatalf("grid --concurrent 1 exit %d: %s", code, errb.String())
	}
	a, errA = os.ReadFile(grid)
	b, errB = os.ReadFile(serialGrid)
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("grid drawn one row at a time differs from two rows at once (%v, %v)", errA, errB)
	}
	if code = Main(context.Background(), []string{"world", "grid", "--prompt", "x"}, env); code == 0 {
		t.Error("grid without --out succeeded")
	}
}

// TestWorldProbe runs `kata world probe` on the tiny fixture model and
// checks its table, its sheet and its refusals.
func TestWorldProbe(t *testing.T) {
	dir := t.TempDir()
	sheet := filepath.Join(dir, "probe.png")
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb}
	code := Main(context.Background(), []string{"world", "probe", "--model", sdtest.TinyDir(), "--n", "2", "--timesteps", "100, 900", "--sheet", sheet, "--backend", "go"}, env)
	if code != 0 {
		t.Fatalf("probe exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "2 renders") || !strings.Contains(out.String(), "      900 ") {
		t.Errorf("probe output:\n%s", out.String())
	}
	if st, err := os.Stat(sheet); err != nil || st.Size() == 0 {
		t.Errorf("probe sheet: %v", err)
	}
	for _, args := range [][]string{{"--timesteps", "x"}, {"--timesteps", ","}, {"--n", "0"}, {"extra"}} {
		if code := Main(context.Background(), append([]string{"world", "probe", "--model", sdtest.TinyDir(), "--backend", "go"}, args...), env); code == 0 {
			t.Errorf("probe %v succeeded", args)
		}
	}
}
