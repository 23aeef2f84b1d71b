// Package actionfoldertest writes action folders for tests, in exactly
// ActionBench's layout, so that tests of every reader (library import,
// `kata train --images`, benchmarks) use one fixture.
package actionfoldertest

import (
	"fmt"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Template is the caption template of picture i (1-based) that Write puts
// into text.json; "{}" is where the action goes.
func Template(i int) string { return fmt.Sprintf("Young fit woman number %d {} in studio", i) }

// Write creates dir holding n pictures in ActionBench's layout: 01.jpg ..
// NN.jpg (JPEGs of (64+4i) x 96 pixels, each different), NN.txt with the
// full caption (the action in words: "doing a <action>") and text.json, an
// object mapping each file name to a LIST of one template, Template(i). It
// returns dir.
func Write(t testing.TB, dir, action string, n int) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var entries []string
	for i := 1; i <= n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 64+4*i, 96))
		for p := range img.Pix {
			img.Pix[p] = uint8(i*23 + p%7)
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%02d.jpg", i)))
		if err != nil {
			t.Fatal(err)
		}
		err = jpeg.Encode(f, img, nil)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		full := strings.ReplaceAll(Template(i), "{}", "doing a "+action)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%02d.txt", i)), []byte(full+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, fmt.Sprintf("%q: [%q]", fmt.Sprintf("%02d.jpg", i), Template(i)))
	}
	if err := os.WriteFile(filepath.Join(dir, "text.json"), []byte("{"+strings.Join(entries, ",\n")+"}"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
