package actionfolder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kata/store/actionfolder/actionfoldertest"
)

func write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadActionBench(t *testing.T) {
	dir := actionfoldertest.Write(t, t.TempDir(), "handstand", 10)
	f, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pictures) != 10 || len(f.Others) != 0 {
		t.Fatalf("%d pictures, others %v", len(f.Pictures), f.Others)
	}
	for i, p := range f.Pictures {
		if want := actionfoldertest.Template(i + 1); filepath.Base(p.Path) != fmt.Sprintf("%02d.jpg", i+1) || p.Template != want {
			t.Errorf("picture %d: %s %q, want %q", i, p.Path, p.Template, want)
		}
	}
}

func TestReadCaptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string // base=template of every picture, in order
		err   string // part of the error; "" for none
	}{
		{"list in natural order", map[string]string{"2.png": "", "10.png": "", "1.png": "", "text.json": `["a {}", "b {}", "c {}"]`},
			"1.png=a {}|2.png=b {}|10.png=c {}", ""},
		{"list shorter than the pictures", map[string]string{"a.png": "", "b.png": "", "text.json": `["a dog {}"]`},
			"a.png=a dog {}|b.png=", ""},
		{"object by name, stem and number", map[string]string{"01.jpg": "", "02.png": "", "03.webp": "", "04.png": "",
			"text.json": `{"01.jpg": ["x {} one", "unused"], "02": "y {}", "3": ["z {}"]}`},
			"01.jpg=x {} one|02.png=y {}|03.webp=z {}|04.png=", ""},
		{"number keys are not indexes", map[string]string{"1.png": "", "2.png": "", "text.json": `{"1": "one {}", "2": "two {}"}`},
			"1.png=one {}|2.png=two {}", ""},
		{"text.json over NN.txt", map[string]string{"1.png": "", "2.png": "", "1.txt": "a man doing a handstand",
			"2.txt": "  a  boy {}\n on grass\n", "text.json": `{"1": "a man {} on a beach"}`},
			"1.png=a man {} on a beach|2.png=a boy {} on grass", ""},
		{"case-insensitive names", map[string]string{"A.JPG": "", "A.TXT": "up {}", "Text.JSON": `{"B": "no"}`},
			"A.JPG=up {}", ""},
		{"bad text.json keeps NN.txt", map[string]string{"1.png": "", "1.txt": "kept {}", "text.json": `{"1": 5}`},
			"1.png=kept {}", "text.json"},
		{"text.json of the wrong kind", map[string]string{"1.png": "", "text.json": `"just a string"`}, "1.png=", "want a JSON list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, c := range tc.files {
				write(t, filepath.Join(dir, n), c)
			}
			f, err := Read(dir)
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
			var got []string
			for _, p := range f.Pictures {
				got = append(got, filepath.Base(p.Path)+"="+p.Template)
			}
			if g := strings.Join(got, "|"); g != tc.want {
				t.Errorf("got  %s\nwant %s", g, tc.want)
			}
		})
	}
}

func TestReadOthersAndErrors(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "1.png"), "")
	write(t, filepath.Join(dir, "notes.md"), "x")
	write(t, filepath.Join(dir, "readme.txt"), "not a caption: no picture readme")
	write(t, filepath.Join(dir, ".hidden.png"), "")
	write(t, filepath.Join(dir, "sub", "2.png"), "")
	f, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Pictures) != 1 || len(f.Others) != 2 || filepath.Base(f.Others[0]) != "notes.md" || filepath.Base(f.Others[1]) != "readme.txt" {
		t.Errorf("pictures %v others %v", f.Pictures, f.Others)
	}
	if _, err := Read(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing folder: %v", err)
	}
	var pe *fs.PathError
	write(t, filepath.Join(dir, "text.json"), "{")
	if _, err := Read(dir); !errors.As(err, &pe) || filepath.Base(pe.Path) != "text.json" {
		t.Errorf("bad text.json: %v", err)
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	write(t, filepath.Join(root, "sit", "1.png"), "")
	write(t, filepath.Join(root, "10-pray", "a.jpg"), "")
	write(t, filepath.Join(root, "2-cheer", "b.webp"), "")
	write(t, filepath.Join(root, "empty", "notes.txt"), "")
	write(t, filepath.Join(root, ".git", "x.png"), "")
	got, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g))
	}
	if strings.Join(names, ",") != "2-cheer,10-pray,sit" {
		t.Errorf("action folders %v", names)
	}
	if got, err := Find(filepath.Join(root, "sit")); err != nil || len(got) != 1 || got[0] != filepath.Join(root, "sit") {
		t.Errorf("action folder itself: %v %v", got, err)
	}
}

func TestCollect(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a", "1.png"), "")
	write(t, filepath.Join(dir, "a", "10.png"), "")
	write(t, filepath.Join(dir, "a", "2.png"), "")
	write(t, filepath.Join(dir, "a", "text.json"), `["one {}", "two {}", "ten {}"]`)
	write(t, filepath.Join(dir, "b", "photo.raw"), "")
	write(t, filepath.Join(dir, "b", "photo.txt"), "given {}")
	write(t, filepath.Join(dir, "empty", "notes.txt"), "")
	got, err := Collect([]string{filepath.Join(dir, "a"), filepath.Join(dir, "b", "photo.raw"), filepath.Join(dir, "a", "10.png")})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, filepath.Base(p.Path)+"="+p.Template)
	}
	// photo.raw is no picture extension, so its folder's photo.txt is no caption of it.
	if g := strings.Join(s, "|"); g != "1.png=one {}|2.png=two {}|10.png=ten {}|photo.raw=|10.png=ten {}" {
		t.Errorf("collected %s", g)
	}
	for _, tc := range []struct {
		paths []string
		want  error
	}{
		{[]string{filepath.Join(dir, "empty")}, ErrNoPictures},
		{nil, ErrNoPictures},
		{[]string{filepath.Join(dir, "nope")}, fs.ErrNotExist},
	} {
		if _, err := Collect(tc.paths); !errors.Is(err, tc.want) {
			t.Errorf("Collect(%v): %v, want %v", tc.paths, err, tc.want)
		}
	}
	write(t, filepath.Join(dir, "a", "text.json"), `[1]`)
	if _, err := Collect([]string{filepath.Join(dir, "a")}); err == nil || !strings.Contains(err.Error(), "text.json") {
		t.Errorf("bad text.json: %v", err)
	}
}

func TestNaturalLess(t *testing.T) {
	for _, c := range [][2]string{{"2.png", "10.png"}, {"a1", "a01b"}, {"img9", "img10"}, {"a", "b"}, {"01", "2"}} {
		if !NaturalLess(c[0], c[1]) || NaturalLess(c[1], c[0]) {
			t.Errorf("%q < %q wrong", c[0], c[1])
		}
	}
}

func FuzzParseTemplates(f *testing.F) {
	f.Add([]byte(`["a {} b"]`))
	f.Add([]byte(`{"1": "x {}", "2": ["y {}", "z"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tm, err := ParseTemplates(data)
		if err == nil && tm == nil {
			t.Fatal("nil templates without error")
		}
		if err == nil {
			for i := range 3 {
				tm.Lookup(fmt.Sprint(i, ".png"), i)
			}
		}
	})
}
