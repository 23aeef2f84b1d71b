package main

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"kata/app"
)

// TestWindowWorkflow runs the real binary under Xvfb: it drops a folder of
// photos onto the window through the X drag-and-drop protocol, sees the
// photos in the window, screenshots each page (Ctrl+1..3) and checks that
// none is blank and that they differ, quits, and then finds in the library
// an action named after the folder with its photos. KATA_SCREENSHOT_DIR keeps the screenshots (docs/screenshots).
func TestWindowWorkflow(t *testing.T) {
	d := needDisplay(t)
	bin := buildKata(t)
	home := t.TempDir()
	lib := filepath.Join(home, "library")
	photos := filepath.Join(t.TempDir(), "salute")
	if err := os.Mkdir(photos, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 5; i++ {
		writeTestPicture(t, filepath.Join(photos, "0"+strconv.Itoa(i)+".png"), i)
	}
	proc := d.startKata(t, bin, home, lib)

	win := d.findWindow(t, "Kata", 60*time.Second)
	time.Sleep(2 * time.Second)
	empty := d.settled(t, "before-drop.png")
	if err := dropFiles(d.name, win, []string{photos}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // import and thumbnails
	// The window shows the dropped photos: pixels of each picture's own
	// blue (constant over a picture, so kept by any resizing) away from grey.
	dropped := d.settled(t, "after-drop.png")
	for seed := 1; seed <= 3; seed++ {
		if before, after := photoPixels(empty, seed), photoPixels(dropped, seed); after < 400 || before > after/4 {
			t.Errorf("photo %d: %d of its pixels on screen after the drop (%d before)", seed, after, before)
		}
	}

	var shots []image.Image
	for i, name := range []string{"actions.png", "gallery.png", "settings.png"} {
		if _, err := d.x(t, "xdotool", "windowfocus", "--sync", win); err != nil {
			t.Fatal(err)
		}
		if _, err := d.x(t, "xdotool", "key", "ctrl+"+strconv.Itoa(i+1)); err != nil {
			t.Fatal(err)
		}
		shot := d.settled(t, name)
		if n := distinctColours(shot, shot.Bounds(), 64); n < 16 {
			t.Errorf("%s looks blank: %d distinct colours", name, n)
		}
		for j, prev := range shots {
			if sameImage(prev, shot) {
				t.Errorf("%s is the same picture as page %d: the page did not change", name, j+1)
			}
		}
		shots = append(shots, shot)
	}

	proc.quit(t, d)
	if strings.Contains(proc.logs.String(), "should have been called in fyne.Do") {
		t.Errorf("Fyne reports calls off its goroutine:\n%s", proc.logs.String())
	}
	k, err := app.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	actions, err := k.Actions()
	if err != nil {
		t.Fatal(err)
	}
	if len(actions) != 1 || actions[0].Name != "salute" || actions[0].Trigger != "<salute>" || actions[0].Exemplars != 5 {
		t.Fatalf("after the drop the library holds %+v, want one action salute with 5 photos", actions)
	}
}

// writeTestPicture writes a 96x96 PNG whose colours depend on seed.
func writeTestPicture(t *testing.T, path string, seed int) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 96, 96))
	for y := 0; y < 96; y++ {
		for x := 0; x < 96; x++ {
			img.Set(x, y, color.NRGBA{uint8(x * seed), uint8(y + 40*seed), uint8(70 * seed), 255})
		}
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

// photoPixels counts the pixels of img that writeTestPicture's picture of
// seed could have drawn: its blue within 2, red and green apart by 24 or
// more (the window's own colours are greys and the theme's blue).
func photoPixels(img image.Image, seed int) int {
	want := int(uint8(70 * seed))
	n := 0
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			rr, gg, bb := int(cr>>8), int(cg>>8), int(cb>>8)
			if bb >= want-2 && bb <= want+2 && (rr-gg >= 24 || gg-rr >= 24) {
				n++
			}
		}
	}
	return n
}

// sameImage says whether a and b have the same pixels.
func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			if a.At(x, y) != b.At(x, y) {
				return false
			}
		}
	}
	return true
}

// settled screenshots the screen until two shots a second apart agree (the
// page has loaded and drawn), at most 20 s, and returns the last.
func (d *display) settled(t *testing.T, name string) image.Image {
	t.Helper()
	prev := d.screenshot(t, name)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second)
		shot := d.screenshot(t, name)
		if sameImage(prev, shot) {
			return shot
		}
		prev = shot
	}
	return prev
}
