package app

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"kata/model/adi"
	"kata/model/safetensors"
	"kata/store"
)

// TestImportIdentifier imports other tools' textual-inversion embeddings and
// Kata's own files into the library, with `kata library import-identifier`
// and the window's drop (ImportDropped), and checks the stored copy triggers
// by the file's trigger as the window's generation looks it up
// (identifierFiles), with the file's vectors.
func TestImportIdentifier(t *testing.T) {
	src := t.TempDir()
	vec := func(n, seed int) []float32 {
		v := make([]float32, n*32)
		for i := range v {
			v[i] = float32((i*7+seed)%13) / 13
		}
		return v
	}
	write := func(name string, ts []safetensors.Tensor, meta map[string]string) string {
		p := filepath.Join(src, name)
		if err := safetensors.Write(p, ts, meta); err != nil {
			t.Fatal(err)
		}
		return p
	}
	embParams := write("easyneg.safetensors", []safetensors.Tensor{safetensors.F32Tensor("emb_params", []int{2, 32}, vec(2, 1))}, nil)
	stringToParam := write("old-style.safetensors", []safetensors.Tensor{safetensors.F32Tensor("string_to_param.*", []int{1, 32}, vec(1, 2))}, nil)
	named := write("file.safetensors", []safetensors.Tensor{safetensors.F32Tensor("emb_params", []int{1, 32}, vec(1, 3))}, map[string]string{"name": "Cartwheel"})
	diffusers := write("learned_embeds.safetensors", []safetensors.Tensor{safetensors.F32Tensor("<pirouette>", []int{32}, vec(1, 4))}, nil)
	nan := vec(1, 5)
	nan[3] = float32(math.NaN())
	bad := write("broken.safetensors", []safetensors.Tensor{safetensors.F32Tensor("emb_params", []int{1, 32}, nan)}, nil)
	own, err := adi.NewIdentifier("handstand", adi.MethodPPlus, 16, vec(16, 6))
	if err != nil {
		t.Fatal(err)
	}
	ownPath := filepath.Join(src, "mine.safetensors")
	if err := adi.Save(ownPath, own); err != nil {
		t.Fatal(err)
	}
	pickle := filepath.Join(src, "old.pt")
	if err := os.WriteFile(pickle, []byte("PK\x03\x04 not really a zip"), 0o644); err != nil {
		t.Fatal(err)
	}

	lib := filepath.Join(t.TempDir(), "lib")
	k, err := Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.CreateAction("handstand"); err != nil {
		t.Fatal(err)
	}
	k.Close()

	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		stdout  []string // each printed
		stderr  string
		actions []string // the library's actions afterwards, by name
	}{
		{"other tools' layouts", []string{embParams, stringToParam, named, diffusers}, 0,
			[]string{"<easyneg>: added version 1 of action easyneg (new action), ti, 2 token(s)",
				"<old-style>: added version 1", "<cartwheel>: added version 1", "<pirouette>: added version 1"}, "",
			[]string{"cartwheel", "easyneg", "handstand", "old-style", "pirouette"}},
		{"again", []string{embParams}, 0, []string{"<easyneg>: duplicate of version 1 of action easyneg, ti"}, "",
			[]string{"cartwheel", "easyneg", "handstand", "old-style", "pirouette"}},
		{"Kata's own joins its action", []string{ownPath}, 0, []string{"<handstand>: added version 1 of action handstand, p+, 1 token(s)"}, "",
			[]string{"cartwheel", "easyneg", "handstand", "old-style", "pirouette"}},
		{"non-finite and pickled are refused", []string{bad, pickle}, 1, nil, "convert it to .safetensors",
			[]string{"cartwheel", "easyneg", "handstand", "old-style", "pirouette"}},
		{"no file", nil, 2, nil, "needs at least one", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runMain(append([]string{"library", "--library", lib, "import-identifier"}, tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, tc.code, tc.stderr)
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout %q lacks %q", stdout, want)
				}
			}
			if tc.actions == nil {
				return
			}
			k, err := Open(lib)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			as, err := k.lib.Actions(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, a := range as {
				names = append(names, a.Name)
			}
			if !reflect.DeepEqual(names, tc.actions) {
				t.Errorf("actions %v, want %v", names, tc.actions)
			}
		})
	}
	if code, _, stderr := runMain("library", "--library", lib, "import-identifier", bad); code != 1 || !strings.Contains(stderr, "finite") {
		t.Errorf("NaN vectors: exit %d, %q; want the non-finite error", code, stderr)
	}

	// The window's drop takes the identifier files apart from the photos.
	k, err = Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	spin := write("spin.safetensors", []safetensors.Tensor{safetensors.F32Tensor("emb_params", []int{1, 32}, vec(1, 7))}, nil)
	rep, err := k.ImportDropped(0, []string{spin, embParams, bad})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Identifiers != 1 || rep.Duplicates != 1 || len(rep.Failed) != 1 || rep.Added != 0 || len(rep.Actions) != 2 ||
		rep.Actions[0].Name != "spin" || rep.Actions[0].Trigger != "<spin>" || rep.Actions[0].Identifier != "TI v1, imported from spin.safetensors" {
		t.Errorf("drop report %+v", rep)
	}

	// An imported embedding's bare word finds it too, as a whole word only;
	// Kata's own files answer to their trigger alone.
	for _, tc := range []struct {
		prompt string
		words  []string // the bare words of the identifiers found
	}{
		{"a photo, easyneg, old-style", []string{"easyneg", "old-style"}},
		{"a photo, EasyNeg", []string{"easyneg"}},
		{"a photo, easynegative, not-old-style", nil},
		{"a photo of a handstand", nil},
		{"a photo <easyneg> and easyneg", []string{"easyneg"}},
	} {
		paths, _, _, err := k.identifierFiles(context.Background(), tc.prompt, "")
		if err != nil {
			t.Fatalf("%q: %v", tc.prompt, err)
		}
		var words []string
		for _, p := range paths {
			id, err := adi.Load(p)
			if err != nil {
				t.Fatal(err)
			}
			words = append(words, id.Word())
		}
		if !reflect.DeepEqual(words, tc.words) {
			t.Errorf("%q: identifiers with words %q, want %q", tc.prompt, words, tc.words)
		}
	}

	// Each stored copy is found by its trigger and holds the file's vectors.
	for _, tc := range []struct {
		trigger string
		file    string
	}{
		{"<easyneg>", embParams}, {"<old-style>", stringToParam}, {"<cartwheel>", named}, {"<pirouette>", diffusers},
		{"<handstand>", ownPath}, {"<spin>", spin},
	} {
		paths, _, _, err := k.identifierFiles(context.Background(), "a photo of "+tc.trigger, "")
		if err != nil || len(paths) != 1 {
			t.Errorf("%s: %v, %v", tc.trigger, paths, err)
			continue
		}
		got, err := adi.Load(paths[0])
		if err != nil {
			t.Fatal(err)
		}
		want, err := adi.Load(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if got.Trigger != tc.trigger || !reflect.DeepEqual(got.Vectors, want.Vectors) || got.Method != want.Method {
			t.Errorf("%s: stored %s %s %v, want the file's %v", tc.trigger, got.Trigger, got.Method, got.Vectors[0][:3], want.Vectors[0][:3])
		}
	}
}

// TestWindowImportedEmbedding: an embedding dropped on the window works in
// the window's generation by its bare word and by its trigger, and the
// generation's settings list it; the same prompt without it differs.
func TestWindowImportedEmbedding(t *testing.T) {
	if testing.Short() {
		t.Skip("generates on the fixture model")
	}
	k, model := openWithTinyModel(t)
	ctx := context.Background()
	gen := func(prompt string) (pix []byte, identifiers []string) {
		t.Helper()
		g, err := k.Generate(ctx, GenerateRequest{ModelID: model.ID, Prompt: prompt, Steps: 2, Seed: 5}, nil)
		if err != nil {
			t.Fatalf("%q: %v", prompt, err)
		}
		pix, err = imageBytes(g.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		s, err := store.ReadSettings(g.ImagePath)
		if err != nil {
			t.Fatal(err)
		}
		return pix, s.Identifiers
	}
	before, _ := gen("a panda, spin")

	v := make([]float32, 32)
	for i := range v {
		v[i] = 3 * float32(i%5-2)
	}
	p := filepath.Join(t.TempDir(), "spin.safetensors")
	if err := safetensors.Write(p, []safetensors.Tensor{safetensors.F32Tensor("emb_params", []int{1, 32}, v)}, nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := k.ImportDropped(0, []string{p}); err != nil || rep.Identifiers != 1 {
		t.Fatalf("drop: %+v, %v", rep, err)
	}
	word, ids := gen("a panda, spin")
	if bytes.Equal(word, before) {
		t.Error("the bare word gives the image it gave before the import")
	}
	if len(ids) != 1 || !strings.HasPrefix(ids[0], "spin:") {
		t.Errorf("identifiers in the settings %v, want spin's", ids)
	}
	trigger, _ := gen("a panda, <spin>")
	if !bytes.Equal(trigger, word) {
		t.Error("<spin> and the bare word spin give different images")
	}
}
