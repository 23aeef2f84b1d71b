package app

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kata/model/adi"
	"kata/model/sd/sdtest"
	"kata/store"
)

const killEnv = "KATA_APP_KILL_ARGS" // JSON list of arguments for the child's Main

// TestKillChild is the child of TestKill*: it runs Main with the arguments
// in killEnv and exits with its status, unless it is killed first.
func TestKillChild(t *testing.T) {
	spec := os.Getenv(killEnv)
	if spec == "" {
		t.Skip("runs as the child of TestKill")
	}
	var args []string
	if err := json.Unmarshal([]byte(spec), &args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(Main(context.Background(), args, Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}

// killAfter starts kata args in a child process and SIGKILLs it once ready
// reports true (polled every 5 ms) and a further random delay of up to
// maxDelay has passed. It reports whether the kill landed before the child
// finished by itself.
func killAfter(t *testing.T, rng *rand.Rand, env []string, ready func() bool, maxDelay time.Duration, args ...string) bool {
	t.Helper()
	spec, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), env...), killEnv+"="+string(spec))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(2 * time.Minute)
	for ready != nil && !ready() {
		select {
		case err := <-done:
			t.Logf("child finished before it was ready to be killed: %v\n%s", err, out.String())
			return false
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("child never got ready:\n%s", out.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("child failed: %v\n%s", err, out.String())
		}
		return false
	case <-time.After(time.Duration(rng.Int64N(int64(maxDelay)))):
	}
	cmd.Process.Kill()
	err := <-done
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == -1 {
		return true
	}
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out.String())
	}
	return false
}

func noisePNG(t *testing.T, path string, rng *rand.Rand, side int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.UintN(256))
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// checkAfterKill opens the library and requires at worst files without rows
// (what a kill between file and row leaves), which repair moves aside.
func checkAfterKill(t *testing.T, lib string) {
	t.Helper()
	ctx := context.Background()
	l, err := store.Open(lib)
	if err != nil {
		t.Fatalf("open after kill: %v", err)
	}
	defer l.Close()
	rep, err := l.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Kind != store.ProblemOrphanFile {
			t.Fatalf("after kill: %v", rep.Problems)
		}
	}
}

// TestKillImportAndExport kills `kata library import` and `kata library
// export zip` at random points: the library stays consistent, a rerun of
// the import completes it, and the zip is either absent or whole.
func TestKillImportAndExport(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	lib := filepath.Join(t.TempDir(), "lib")
	env := []string{store.EnvLibrary + "=" + lib}
	t.Setenv(store.EnvLibrary, lib)
	photos := filepath.Join(t.TempDir(), "wave")
	os.MkdirAll(photos, 0o755)
	const n = 16
	for i := range n {
		noisePNG(t, filepath.Join(photos, fmt.Sprintf("%02d.png", i)), rng, 256)
	}
	kills := 0
	for range 4 {
		if killAfter(t, rng, env, nil, 400*time.Millisecond, "library", "import", photos) {
			kills++
		}
		checkAfterKill(t, lib)
	}
	if code, out, errOut := runMain("library", "import", photos); code != 0 {
		t.Fatalf("import after kills: %d %s %s", code, out, errOut)
	}
	l, err := store.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := l.ActionByName(ctx, "wave")
	if err != nil {
		t.Fatal(err)
	}
	es, _ := l.Exemplars(ctx, a.ID)
	if len(es) != n {
		t.Errorf("%d exemplars after the rerun, want %d", len(es), n)
	}
	for i := range 12 {
		img := image.NewNRGBA(image.Rect(0, 0, 384, 384))
		for j := range img.Pix {
			img.Pix[j] = uint8(rng.UintN(256))
		}
		if _, err := l.AddGeneration(ctx, store.Generation{Prompt: fmt.Sprint("p", i), Steps: 1, CFG: 7, ActionID: a.ID}, img); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	dest := t.TempDir()
	zipPath := filepath.Join(dest, "out.zip")
	for range 4 {
		os.Remove(zipPath)
		if killAfter(t, rng, env, nil, 300*time.Millisecond, "library", "export", "zip", zipPath) {
			kills++
		}
		checkAfterKill(t, lib)
		if _, err := os.Stat(zipPath); err == nil {
			zr, err := zip.OpenReader(zipPath)
			if err != nil {
				t.Fatalf("export left a broken zip: %v", err)
			}
			zr.Close()
		}
	}
	t.Logf("%d of 8 runs killed mid-way", kills)
	if kills == 0 {
		t.Errorf("no run was killed mid-way: the test did not test anything")
	}
}

// TestKillTrain kills `kata train` at a random point, twice, and resumes
// it: a checkpoint on disk always loads and the resumed run finishes with
// all its steps.
func TestKillTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model several times")
	}
	rng := rand.New(rand.NewPCG(8, uint64(time.Now().UnixNano())))
	lib := filepath.Join(t.TempDir(), "lib")
	env := []string{store.EnvLibrary + "=" + lib, "KATA_BACKEND=go"}
	t.Setenv(store.EnvLibrary, lib)
	t.Setenv("KATA_BACKEND", "go")
	images := trainImages(t, 2)
	out := filepath.Join(t.TempDir(), "jump.safetensors")
	ckpt := strings.TrimSuffix(out, ".safetensors") + trainStateExt
	const steps = 60
	args := []string{"train", "--model", sdtest.TinyDir(), "--images", images, "--name", "jump", "--out", out,
		"--method", "ti", "--steps", fmt.Sprint(steps), "--checkpoint-every", "1", "--resume"}
	kills := 0
	for range 2 {
		if killAfter(t, rng, env, nil, 2500*time.Millisecond, args...) {
			kills++
			if _, err := os.Stat(ckpt); err != nil {
				t.Logf("killed before the first checkpoint")
				continue
			}
			c, err := adi.LoadCheckpoint(ckpt, adi.AdamWConfig{})
			if err != nil {
				t.Fatalf("checkpoint after kill: %v", err)
			}
			t.Logf("killed; checkpoint at step %d", c.Step)
		}
	}
	if code, stdout, stderr := runMain(args...); code != 0 {
		t.Fatalf("resume: %d %s %s", code, stdout, stderr)
	}
	id, err := adi.Load(out)
	if err != nil || id.Steps != steps {
		t.Fatalf("resumed identifier: %+v %v", id, err)
	}
	if kills == 0 {
		t.Errorf("no run was killed mid-way")
	}
}
