package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.txt")
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		fn      func(io.Writer) error
		want    string // content afterwards
		wantErr error
	}{
		{"new file", func(w io.Writer) error { _, err := io.WriteString(w, "one"); return err }, "one", nil},
		{"replaces", func(w io.Writer) error { _, err := io.WriteString(w, "two"); return err }, "two", nil},
		{"failed write keeps the old content", func(w io.Writer) error { io.WriteString(w, "half"); return boom }, "two", boom},
	} {
		err := Write(p, tc.fn)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.wantErr)
		}
		if err != nil && (!strings.Contains(err.Error(), p) || strings.Contains(err.Error(), ".tmp-")) {
			t.Errorf("%s: error %q should name the target only", tc.name, err)
		}
		got, _ := os.ReadFile(p)
		if string(got) != tc.want {
			t.Errorf("%s: content %q, want %q", tc.name, got, tc.want)
		}
		st, _ := os.Stat(p)
		if st.Mode().Perm() != Mode {
			t.Errorf("%s: mode %v, want %v", tc.name, st.Mode().Perm(), os.FileMode(Mode))
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	if err := WriteBytes(filepath.Join(dir, "missing", "b"), []byte("x")); err == nil {
		t.Errorf("write into a missing folder: no error")
	}
	tmp := t.TempDir()
	if err := WriteVia(tmp, filepath.Join(dir, "c"), func(w io.Writer) error { _, err := w.Write([]byte("via")); return err }); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "c")); string(got) != "via" {
		t.Errorf("WriteVia content %q", got)
	}
}
