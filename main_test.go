package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kata/app"
)

// display is an Xvfb server the smoke tests run the real binary on.
type display struct {
	name string
	cmd  *exec.Cmd
}

// needDisplay starts Xvfb, or skips when it is missing and KATA_DISPLAY_TESTS
// (set by `make test`) does not demand it.
func needDisplay(t *testing.T) *display {
	t.Helper()
	for _, tool := range []string{"Xvfb", "xdotool", "import"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("KATA_DISPLAY_TESTS") == "1" {
				t.Fatalf("%s is missing: `make deps` installs it", tool)
			}
			t.Skipf("%s not installed; run through `make test`", tool)
		}
	}
	for n := 91; n < 140; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n)); err == nil {
			continue
		}
		name := fmt.Sprintf(":%d", n)
		cmd := exec.Command("Xvfb", name, "-screen", "0", "1280x800x24", "-nolisten", "tcp")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start Xvfb: %v", err)
		}
		d := &display{name: name, cmd: cmd}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if waitFor(10*time.Second, func() bool {
			_, err := os.Stat(fmt.Sprintf("/tmp/.X11-unix/X%d", n))
			return err == nil
		}) {
			return d
		}
		t.Fatalf("Xvfb %s did not start", name)
	}
	t.Fatal("no free X display number")
	return nil
}

func waitFor(limit time.Duration, ok func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return false
}

// x runs an X client tool on the display and returns its trimmed stdout.
func (d *display) x(t *testing.T, tool string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+d.name)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s: %v: %s", tool, strings.Join(args, " "), err, errOut.String())
	}
	return strings.TrimSpace(out.String()), err
}

// findWindow waits for a visible window titled exactly title. (xdotool's
// name match is a case-insensitive regexp, and GTK adds a hidden "kata" leader.)
func (d *display) findWindow(t *testing.T, title string, limit time.Duration) string {
	t.Helper()
	var id string
	if !waitFor(limit, func() bool {
		id = d.windowTitled(t, title)
		return id != ""
	}) {
		t.Fatalf("no window titled %q appeared within %v", title, limit)
	}
	return id
}

func (d *display) windowTitled(t *testing.T, title string) string {
	out, _ := d.x(t, "xdotool", "search", "--onlyvisible", "--name", title)
	for _, id := range strings.Fields(out) {
		if name, err := d.x(t, "xdotool", "getwindowname", id); err == nil && name == title {
			return id
		}
	}
	return ""
}

// screenshot grabs the whole screen and returns the image; it also keeps the
// PNG in KATA_SCREENSHOT_DIR when that is set (the README's picture comes from here).
func (d *display) screenshot(t *testing.T, name string) image.Image {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if _, err := d.x(t, "import", "-window", "root", path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("KATA_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode screenshot: %v", err)
	}
	return img
}

// distinctColours counts the colours in img's rectangle r, up to limit.
func distinctColours(img image.Image, r image.Rectangle, limit int) int {
	seen := map[[3]uint32]bool{}
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			seen[[3]uint32{cr >> 8, cg >> 8, cb >> 8}] = true
			if len(seen) >= limit {
				return limit
			}
		}
	}
	return len(seen)
}

func buildKata(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kata")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// kataWindow is the real binary running on a display.
type kataWindow struct {
	cmd    *exec.Cmd
	exited chan error    // receives the result of cmd.Wait once
	logs   *bytes.Buffer // its stdout and stderr
}

// startKata starts bin on d in its own home: HOME and the XDG folders
// under home, the library at lib. At the end of the test it is killed if
// still running, and its output is logged if the test failed.
func (d *display) startKata(t *testing.T, bin, home, lib string) *kataWindow {
	t.Helper()
	k := &kataWindow{cmd: exec.Command(bin), exited: make(chan error, 1), logs: new(bytes.Buffer)}
	k.cmd.Env = append(os.Environ(), "DISPLAY="+d.name, "HOME="+home,
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"KATA_LIBRARY="+lib, "NO_AT_BRIDGE=1", "GSETTINGS_BACKEND=memory")
	k.cmd.Stdout, k.cmd.Stderr = k.logs, k.logs
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { k.exited <- k.cmd.Wait() }()
	t.Cleanup(func() {
		if k.cmd.ProcessState == nil {
			_ = k.cmd.Process.Kill()
			<-k.exited
		}
		if t.Failed() {
			t.Logf("kata output:\n%s", k.logs.String())
		}
	})
	return k
}

// quit presses Ctrl+Q in the focused window and fails the test unless kata
// then exits cleanly within 20 seconds.
func (k *kataWindow) quit(t *testing.T, d *display) {
	t.Helper()
	if _, err := d.x(t, "xdotool", "key", "ctrl+q"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-k.exited:
		if err != nil {
			t.Fatalf("kata did not quit cleanly: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("kata did not quit on Ctrl+Q")
	}
}

// TestWindowSmoke starts the real binary under Xvfb, checks the window draws
// something, opens and cancels the native GTK file dialog of Add photos
// (sqweek/dialog issues 51 and 58 report GTK+GLFW crashes), opens it again
// and picks a photo by typing its path, quits with Ctrl+Q, and finds the
// photo in the library.
func TestWindowSmoke(t *testing.T) {
	d := needDisplay(t)
	home := t.TempDir()
	lib := filepath.Join(home, "library")
	photo := filepath.Join(t.TempDir(), "photo.png")
	writeTestPicture(t, photo, 1)
	k := d.startKata(t, buildKata(t), home, lib)

	win := d.findWindow(t, "Kata", 60*time.Second)
	// Let the first frames render.
	time.Sleep(2 * time.Second)
	shot := d.screenshot(t, "window.png")
	geom, err := d.x(t, "xdotool", "getwindowgeometry", win)
	if err != nil {
		t.Fatal(err)
	}
	if n := distinctColours(shot, shot.Bounds(), 64); n < 16 {
		t.Fatalf("window looks blank: %d distinct colours on screen (window %s)", n, geom)
	}

	if _, err := d.x(t, "xdotool", "windowfocus", "--sync", win); err != nil {
		t.Fatal(err)
	}
	if _, err := d.x(t, "xdotool", "key", "ctrl+o"); err != nil {
		t.Fatal(err)
	}
	const title = "Add photos of the action"
	dlg := d.findWindow(t, title, 30*time.Second)
	time.Sleep(time.Second)
	d.screenshot(t, "dialog.png")
	// A GTK file chooser that is still setting up its widgets can drop the
	// key (seen once on a loaded machine), so Escape is sent again until the
	// dialog closes.
	gone := func() bool { return d.windowTitled(t, title) == "" }
	closed := false
	for try := 0; try < 5 && !closed; try++ {
		if _, err := d.x(t, "xdotool", "windowfocus", "--sync", dlg); err != nil {
			if gone() { // closed by the previous Escape after all
				closed = true
				break
			}
			t.Fatal(err)
		}
		if _, err := d.x(t, "xdotool", "key", "Escape"); err != nil {
			t.Fatal(err)
		}
		closed = waitFor(4*time.Second, gone)
	}
	if !closed {
		t.Fatal("the file dialog did not close on Escape (5 tries)")
	}
	select {
	case err := <-k.exited:
		t.Fatalf("kata exited after the dialog was cancelled: %v", err)
	case <-time.After(2 * time.Second):
	}
	d.findWindow(t, "Kata", 5*time.Second)

	// Ctrl+L opens a GTK file chooser's location entry; Return there picks
	// the typed file. A chooser still setting up can drop keys, as above,
	// so the path is typed again (over the entry's text) until it closes.
	if _, err := d.x(t, "xdotool", "windowfocus", "--sync", win); err != nil {
		t.Fatal(err)
	}
	if _, err := d.x(t, "xdotool", "key", "ctrl+o"); err != nil {
		t.Fatal(err)
	}
	dlg = d.findWindow(t, title, 30*time.Second)
	time.Sleep(time.Second)
	picked := false
	for try := 0; try < 3 && !picked; try++ {
		for _, keys := range [][]string{
			{"windowfocus", "--sync", dlg},
			{"key", "ctrl+l"},
			{"key", "ctrl+a"},
			{"type", "--delay", "30", photo},
			{"key", "Return"},
		} {
			if _, err := d.x(t, "xdotool", keys...); err != nil {
				if gone() {
					break
				}
				t.Fatal(err)
			}
			time.Sleep(300 * time.Millisecond)
		}
		picked = waitFor(5*time.Second, gone)
	}
	if !picked {
		d.screenshot(t, "dialog-typed.png")
		t.Fatal("the file dialog did not close on Return after its path was typed (3 tries)")
	}
	time.Sleep(2 * time.Second) // the import

	if _, err := d.x(t, "xdotool", "windowfocus", "--sync", win); err != nil {
		t.Fatal(err)
	}
	k.quit(t, d)
	kata, err := app.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer kata.Close()
	actions, err := kata.Actions()
	if err != nil {
		t.Fatal(err)
	}
	if len(actions) != 1 || actions[0].Exemplars != 1 {
		t.Fatalf("after picking %s the library holds %+v, want one action with one photo", photo, actions)
	}
}

// TestNoLocaleNoise runs `kata version` under the C.UTF-8 locale of Debian
// and most containers: Fyne must not log "Error parsing user locale C".
func TestNoLocaleNoise(t *testing.T) {
	bin := buildKata(t)
	for _, env := range [][]string{{"LANG=C.UTF-8"}, {"LC_ALL=C.UTF-8", "LANG=C"}, {"LANG=C"}} {
		cmd := exec.Command(bin, "version")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("%v: kata version: %v, stderr %q", env, err, stderr.String())
		}
	}
}
