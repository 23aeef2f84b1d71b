package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const crashEnv = "KATA_STORE_CRASH_WRITER" // library dir of the writer child

// TestCrashWriterChild is the writer process of TestCrashRecovery: it only
// runs when re-executed with crashEnv set, and writes until it is killed,
// logging each operation after it committed.
func TestCrashWriterChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("runs as the child of TestCrashRecovery")
	}
	if err := crashWriter(dir); err != nil {
		fmt.Fprintln(os.Stderr, "writer:", err)
		os.Exit(3)
	}
}

func crashWriter(dir string) error {
	ctx := context.Background()
	// Widen the windows between file and row so kills land in them.
	testHookAfterFile = func() { time.Sleep(time.Millisecond) }
	l, err := Open(dir)
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "..", "committed.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	// A killed process loses nothing it wrote with write(2): no fsync needed.
	logLine := func(format string, args ...any) { fmt.Fprintf(logf, format+"\n", args...) }
	a, _, err := l.ensureAction(ctx, "crash")
	if err != nil {
		return err
	}
	id, err := l.CreateIdentifier(ctx, Identifier{ActionID: a.ID, Method: "adi"})
	if err != nil {
		return err
	}
	job, err := l.CreateJob(ctx, Job{Kind: "train", State: JobRunning})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), uint64(time.Now().UnixNano())))
	type item struct {
		kind string
		id   int64
	}
	var live []item
	for n := 0; ; n++ {
		switch op := rng.IntN(10); {
		case op < 4:
			img := image.NewNRGBA(image.Rect(0, 0, 24, 24))
			for i := range img.Pix {
				img.Pix[i] = uint8(rng.UintN(256))
			}
			e, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID, Caption: fmt.Sprint("n", n)}, img)
			if err != nil {
				return err
			}
			logLine("add exemplar %d %s", e.ID, e.Image)
			live = append(live, item{"exemplar", e.ID})
		case op < 6:
			g, err := l.AddGeneration(ctx, Generation{Prompt: fmt.Sprint("p", n), Seed: rng.Int64(), Steps: 20, CFG: 7},
				solid(16, 16, color.NRGBA{uint8(n), uint8(n >> 8), uint8(rng.UintN(256)), 255}))
			if err != nil {
				return err
			}
			logLine("add generation %d %s", g.ID, g.Image)
			live = append(live, item{"generation", g.ID})
		case op < 7:
			file := make([]byte, 256+rng.IntN(4096))
			for i := range file {
				file[i] = uint8(rng.UintN(256))
			}
			v, err := l.AddIdentifierVersion(ctx, IdentifierVersion{IdentifierID: id.ID, Metrics: map[string]float64{"n": float64(n)}}, file)
			if err != nil {
				return err
			}
			logLine("add version %d %s", v.ID, v.File)
		case op < 9 && len(live) > 0:
			k := rng.IntN(len(live))
			it := live[k]
			live = append(live[:k], live[k+1:]...)
			logLine("deleting %s %d", it.kind, it.id)
			if it.kind == "exemplar" {
				err = l.DeleteExemplar(ctx, it.id)
			} else {
				err = l.DeleteGeneration(ctx, it.id)
			}
			if err != nil {
				return err
			}
			logLine("deleted %s %d", it.kind, it.id)
		default:
			job.Progress = float64(n)
			if err := l.UpdateJob(ctx, job); err != nil {
				return err
			}
		}
	}
}

// TestCrashRecovery kills a writer process at random moments, many times,
// and checks after each kill that the library opens, passes the full check
// and holds everything the writer had committed.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("inside the writer child")
	}
	budget, maxRuns := 25*time.Second, 60
	if testing.Short() {
		budget, maxRuns = 5*time.Second, 12
	}
	root := t.TempDir()
	dir := filepath.Join(root, "lib")
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	start := time.Now()
	repairs := map[string]int{}
	runs := 0
	for ; runs < maxRuns && time.Since(start) < budget; runs++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(50+rng.IntN(400)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 { // -1: killed by a signal
			t.Fatalf("writer ended before the kill: %v\n%s", err, stderr.String())
		}

		l, err := Open(dir)
		if err != nil {
			t.Fatalf("run %d: open after kill: %v", runs, err)
		}
		for _, p := range l.OpenReport().Problems {
			repairs[p.Kind]++
		}
		// A kill leaves at worst files without rows: open leaves them, check
		// reports them, repair moves them aside.
		rep, err := l.Check(ctx)
		if err != nil {
			t.Fatalf("run %d: check after kill: %v", runs, err)
		}
		for _, p := range rep.Problems {
			if p.Kind != ProblemOrphanFile {
				t.Fatalf("run %d: check after kill: %v", runs, rep.Problems)
			}
			repairs[p.Kind]++
		}
		if len(rep.Problems) > 0 {
			if rep, err := l.Repair(ctx); err != nil || !rep.OK() {
				t.Fatalf("run %d: repair after kill: %v %v", runs, rep.Problems, err)
			}
			if rep, err := l.Check(ctx); err != nil || len(rep.Problems) != 0 {
				t.Fatalf("run %d: check after repair: %v %v", runs, rep.Problems, err)
			}
		}
		verifyCommitted(t, l, filepath.Join(root, "committed.log"))
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := func() Counts {
		l, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, _ := l.Counts(ctx)
		return c
	}()
	t.Logf("%d kills in %v; cleared at open or repaired: %v; library holds %d exemplars, %d generations, %d identifier versions",
		runs, time.Since(start).Round(time.Millisecond), repairs, c.Exemplars, c.Generations, c.Versions)
	if repairs[ProblemOrphanFile] == 0 {
		t.Errorf("no kill left a file without its row: the repair path was not exercised")
	}
	if repairs[ProblemInterrupted] == 0 {
		t.Errorf("running job never marked interrupted")
	}
	if c.Exemplars+c.Generations == 0 {
		t.Errorf("writer never committed anything")
	}
}

// verifyCommitted checks every logged add against the library: rows present
// (unless deleted later) with the logged file.
func verifyCommitted(t *testing.T, l *Library, logPath string) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(logPath)
	if errors.Is(err, os.ErrNotExist) {
		return // killed before its first commit (a loaded machine)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type key struct {
		kind string
		id   int64
	}
	added := map[key]string{}
	deleting := map[key]bool{}
	deleted := map[key]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var verb, kind, hash string
		var id int64
		fmt.Sscan(sc.Text(), &verb, &kind, &id, &hash)
		k := key{kind, id}
		switch verb {
		case "add":
			added[k] = hash
		case "deleting":
			deleting[k] = true
		case "deleted":
			deleted[k] = true
		}
	}
	for k, hash := range added {
		var got string
		var err error
		switch k.kind {
		case "exemplar":
			var e Exemplar
			e, err = l.Exemplar(ctx, k.id)
			got = e.Image
		case "generation":
			var g Generation
			g, err = l.Generation(ctx, k.id)
			got = g.Image
		case "version":
			var v IdentifierVersion
			v, err = l.IdentifierVersion(ctx, k.id)
			got = v.File
		}
		switch {
		case deleted[k]:
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s %d was deleted but is there: %v", k.kind, k.id, err)
			}
		case deleting[k] && errors.Is(err, ErrNotFound):
			// killed mid-delete after the commit
		case err != nil:
			t.Fatalf("committed %s %d lost: %v", k.kind, k.id, err)
		case got != hash:
			t.Fatalf("%s %d points at %s, committed %s", k.kind, k.id, got, hash)
		default:
			if _, err := os.Stat(l.BlobPath(hash)); err != nil {
				t.Fatalf("%s %d: file %v", k.kind, k.id, err)
			}
		}
	}
}
