package store

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const diskFullEnv = "KATA_STORE_DISKFULL" // library dir of the child under RLIMIT_FSIZE

// diskFullLimit is the child's largest file size: the database stays below
// it for the first few rows, and noise pictures of growing size soon pass it.
const diskFullLimit = 256 << 10

// TestDiskFullChild runs only as the child of TestDiskFull: it limits the
// size of every file it writes (RLIMIT_FSIZE, as a full disk or a quota
// does for the file that grows) and adds ever larger pictures until a write
// fails, then prints the error.
func TestDiskFullChild(t *testing.T) {
	dir := os.Getenv(diskFullEnv)
	if dir == "" {
		t.Skip("runs as the child of TestDiskFull")
	}
	ctx := context.Background()
	l, err := Open(dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(3)
	}
	a, err := l.CreateAction(ctx, Action{Name: "full"})
	if err != nil {
		fmt.Println("action:", err)
		os.Exit(3)
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: diskFullLimit, Max: diskFullLimit}); err != nil {
		fmt.Println("setrlimit:", err)
		os.Exit(4)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for side := 64; side < 1024; side += 32 {
		img := image.NewNRGBA(image.Rect(0, 0, side, side))
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.UintN(256))
		}
		if _, err := l.AddExemplar(ctx, Exemplar{ActionID: a.ID, Caption: fmt.Sprint(side)}, img); err != nil {
			fmt.Println("FAILED:", err)
			l.Close()
			os.Exit(0)
		}
		fmt.Println("added", side)
	}
	fmt.Println("never failed")
	os.Exit(5)
}

// TestDiskFull checks that a write hitting the file size limit fails with an
// error that says so, and leaves the library whole: no temp file, no row
// without its file, every stored picture intact.
func TestDiskFull(t *testing.T) {
	if os.Getenv(diskFullEnv) != "" {
		t.Skip("child")
	}
	dir := filepath.Join(t.TempDir(), "lib")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFullChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), diskFullEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 4 {
		t.Skipf("no RLIMIT_FSIZE here: %s", out)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	text := string(out)
	i := strings.Index(text, "FAILED: ")
	if i < 0 {
		t.Fatalf("no failure reported:\n%s", text)
	}
	msg := text[i:]
	if !strings.Contains(msg, "file too large") {
		t.Errorf("the error does not say what is wrong: %s", msg)
	}
	added := strings.Count(text, "added ")
	t.Logf("%d pictures added, then %s", added, strings.TrimSpace(strings.SplitN(msg, "\n", 2)[0]))

	l, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ps := l.OpenReport().Problems; len(ps) != 0 {
		t.Errorf("the failed write left %v", ps)
	}
	rep, err := l.Check(context.Background())
	if err != nil || len(rep.Problems) != 0 {
		t.Errorf("check after disk full: %v %v", rep.Problems, err)
	}
	a, err := l.ActionByName(context.Background(), "full")
	if err != nil {
		t.Fatal(err)
	}
	es, err := l.Exemplars(context.Background(), a.ID)
	if err != nil || len(es) != added {
		t.Errorf("%d exemplars, %d added: %v", len(es), added, err)
	}
}
