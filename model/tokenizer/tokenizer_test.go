package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"kata/assets"
)

type fixtureCase struct {
	Name      string   `json:"name"`
	Text      string   `json:"text"`
	IDs       []int    `json:"ids"`
	Tokens    []string `json:"tokens"`
	Truncated bool     `json:"truncated"`
	InputIDs  []int    `json:"input_ids"`
}

func loadCases(t testing.TB) []fixtureCase {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		NumCases int           `json:"num_cases"`
		Cases    []fixtureCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) != f.NumCases || len(f.Cases) == 0 {
		t.Fatalf("cases.json holds %d cases, says %d", len(f.Cases), f.NumCases)
	}
	return f.Cases
}

func defaultTokenizer(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Every case of the fixture: ids and tokens from OpenAI CLIP's
// simple_tokenizer, and the 77-long SD input sequence.
func TestFixtureCases(t *testing.T) {
	tok := defaultTokenizer(t)
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			ids := tok.Encode(c.Text)
			if len(ids) == 0 {
				ids = []int{}
			}
			if !reflect.DeepEqual(ids, c.IDs) {
				t.Fatalf("Encode(%q)\n got %v\nwant %v", c.Text, ids, c.IDs)
			}
			for i, id := range ids {
				if s, ok := tok.Token(id); !ok || s != c.Tokens[i] {
					t.Errorf("token %d: id %d is %q, want %q", i, id, s, c.Tokens[i])
				}
			}
			in, truncated, err := tok.EncodePaddedTruncated(c.Text, SDLength)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in, c.InputIDs) || truncated != c.Truncated {
				t.Errorf("EncodePadded(%q) truncated=%v\n got %v\nwant %v", c.Text, truncated, in, c.InputIDs)
			}
		})
	}
}

// The files in a directory (the sd-tiny tokenizer layout, with its
// special_tokens_map.json) load to the same tokenizer as the embedded one.
func TestLoadDirMatchesDefault(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "assets", "clip", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	special := `{"bos_token":{"content":"<|startoftext|>"},"pad_token":"<|endoftext|>"}`
	if err := os.WriteFile(filepath.Join(dir, "special_tokens_map.json"), []byte(special), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	def := defaultTokenizer(t)
	if tok.VocabSize() != 49408 || tok.BOS() != 49406 || tok.EOS() != 49407 || tok.Pad() != 49407 {
		t.Errorf("vocab %d bos %d eos %d pad %d", tok.VocabSize(), tok.BOS(), tok.EOS(), tok.Pad())
	}
	for _, c := range loadCases(t) {
		if a, b := tok.Encode(c.Text), def.Encode(c.Text); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: Load gives %v, Default %v", c.Name, a, b)
		}
	}
}

func TestPadTokenFromSpecialTokensMap(t *testing.T) {
	fsys := miniFS(`{"pad_token": {"content": "!", "lstrip": false}}`)
	tok, err := LoadFS(fsys, "tok")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := tok.EncodePadded("a", 5)
	if err != nil {
		t.Fatal(err)
	}
	bang := mustID(t, tok, "!")
	want := []int{tok.BOS(), mustID(t, tok, "a</w>"), tok.EOS(), bang, bang}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("got %v, want %v", ids, want)
	}
}

func mustID(t *testing.T, tok *Tokenizer, s string) int {
	t.Helper()
	id, ok := tok.TokenID(s)
	if !ok {
		t.Fatalf("no id for %q", s)
	}
	return id
}

// miniFS builds a tiny valid vocabulary: the 512 byte tokens, the merges
// "c a" and "ca t</w>", and the special tokens.
func miniFS(special string) fstest.MapFS {
	vocab := map[string]int{}
	for b := 0; b < 256; b++ {
		vocab[string(byteToRune[b])] = b
		vocab[string(byteToRune[b])+endOfWord] = 256 + b
	}
	vocab["ca"] = 512
	vocab["cat</w>"] = 513
	vocab[StartOfText] = 514
	vocab[EndOfText] = 515
	vj, _ := json.Marshal(vocab)
	fsys := fstest.MapFS{
		"tok/vocab.json": {Data: vj},
		"tok/merges.txt": {Data: []byte("#version: 0.2\nc a\nca t</w>\n")},
	}
	if special != "" {
		fsys["tok/special_tokens_map.json"] = &fstest.MapFile{Data: []byte(special)}
	}
	return fsys
}

func TestLoadErrors(t *testing.T) {
	good := miniFS("")
	if _, err := LoadFS(good, "tok"); err != nil {
		t.Fatalf("mini vocabulary: %v", err)
	}
	cases := map[string]func(fstest.MapFS){
		"missing vocab":  func(f fstest.MapFS) { delete(f, "tok/vocab.json") },
		"missing merges": func(f fstest.MapFS) { delete(f, "tok/merges.txt") },
		"bad json":       func(f fstest.MapFS) { f["tok/vocab.json"] = &fstest.MapFile{Data: []byte("{")} },
		"no eos": func(f fstest.MapFS) {
			var v map[string]int
			_ = json.Unmarshal(f["tok/vocab.json"].Data, &v)
			delete(v, EndOfText)
			b, _ := json.Marshal(v)
			f["tok/vocab.json"] = &fstest.MapFile{Data: b}
		},
		"missing byte token": func(f fstest.MapFS) {
			var v map[string]int
			_ = json.Unmarshal(f["tok/vocab.json"].Data, &v)
			delete(v, "a</w>")
			b, _ := json.Marshal(v)
			f["tok/vocab.json"] = &fstest.MapFile{Data: b}
		},
		"duplicate id": func(f fstest.MapFS) {
			var v map[string]int
			_ = json.Unmarshal(f["tok/vocab.json"].Data, &v)
			v["ca"] = 513
			b, _ := json.Marshal(v)
			f["tok/vocab.json"] = &fstest.MapFile{Data: b}
		},
		"negative id": func(f fstest.MapFS) {
			var v map[string]int
			_ = json.Unmarshal(f["tok/vocab.json"].Data, &v)
			v["ca"] = -3
			b, _ := json.Marshal(v)
			f["tok/vocab.json"] = &fstest.MapFile{Data: b}
		},
		"merge result not in vocab": func(f fstest.MapFS) {
			f["tok/merges.txt"] = &fstest.MapFile{Data: []byte("#version: 0.2\nc a\nd o\n")}
		},
		"malformed merge": func(f fstest.MapFS) {
			f["tok/merges.txt"] = &fstest.MapFile{Data: []byte("#version: 0.2\nca\n")}
		},
		"unknown pad": func(f fstest.MapFS) {
			f["tok/special_tokens_map.json"] = &fstest.MapFile{Data: []byte(`{"pad_token":"<pad>"}`)}
		},
	}
	for name, mutate := range cases {
		f := miniFS("")
		mutate(f)
		if _, err := LoadFS(f, "tok"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMiniVocabularyMerges(t *testing.T) {
	tok, err := LoadFS(miniFS(""), "tok")
	if err != nil {
		t.Fatal(err)
	}
	// "cat" merges fully; "cats" stops at "ca" because "t" is not word-final.
	if got, want := tok.Encode("cat cats"), []int{513, 512, 't', 256 + 's'}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestAddToken(t *testing.T) {
	tok := defaultTokenizer(t)
	id, err := tok.AddToken("<handstand>")
	if err != nil || id != 49408 {
		t.Fatalf("AddToken = %d, %v", id, err)
	}
	id2, err := tok.AddToken("<pray>")
	if err != nil || id2 != 49409 {
		t.Fatalf("second AddToken = %d, %v", id2, err)
	}
	if again, err := tok.AddToken("<handstand>"); err != nil || again != id {
		t.Errorf("re-adding gave %d, %v", again, err)
	}
	for _, bad := range []string{"", "   ", "cat</w>", "cat", "<HANDSTAND>"} {
		if _, err := tok.AddToken(bad); err == nil {
			t.Errorf("AddToken(%q) gave no error", bad)
		}
	}
	if tok.VocabSize() != 49410 {
		t.Errorf("VocabSize %d", tok.VocabSize())
	}
	plain := defaultTokenizer(t)
	if plain.VocabSize() != 49408 {
		t.Errorf("added tokens leaked into a new Default tokenizer")
	}
	a := plain.Encode("a person doing a")
	b := plain.Encode("on the beach")
	cases := []struct {
		text string
		want []int
	}{
		{"a person doing a <handstand> on the beach", concat(a, []int{id}, b)},
		{"A person doing a <Handstand>on the beach", concat(a, []int{id}, b)},
		{"<handstand><pray>", []int{id, id2}},
		{"x<handstand>", concat(plain.Encode("x"), []int{id})},
		{"<handstand", plain.Encode("<handstand")},
	}
	for _, c := range cases {
		if got := tok.Encode(c.text); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if s := tok.Decode([]int{49406, id, 320, 49407}); s != "<|startoftext|><handstand>a <|endoftext|>" {
		t.Errorf("Decode = %q", s)
	}
	if got, ok := tok.TokenID("<pray>"); !ok || got != id2 {
		t.Errorf("TokenID(<pray>) = %d %v", got, ok)
	}
	if got := tok.AddedTokens(); !reflect.DeepEqual(got, []string{"<handstand>", "<pray>"}) {
		t.Errorf("AddedTokens = %v", got)
	}
}

func concat(parts ...[]int) []int {
	var out []int
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestDecodeRoundTrip(t *testing.T) {
	tok := defaultTokenizer(t)
	for _, c := range loadCases(t) {
		want := clean(c.Text)
		// Decode restores the cleaned words, each followed by a space where
		// a word ended; whitespace positions inside CLIP's split are lost.
		got := strings.Join(strings.Fields(tok.Decode(tok.Encode(c.Text))), "")
		if want = strings.Join(strings.Fields(want), ""); got != want {
			t.Errorf("%s: Decode(Encode) = %q, want %q", c.Name, got, want)
		}
	}
	if got := tok.Decode([]int{-1, 1 << 30}); got != "" {
		t.Errorf("unknown ids decode to %q", got)
	}
}

func TestEncodePaddedErrors(t *testing.T) {
	tok := defaultTokenizer(t)
	if _, err := tok.EncodePadded("a cat", 1); err == nil {
		t.Error("length 1 gave no error")
	}
	ids, err := tok.EncodePadded("a cat", 2)
	if err != nil || !reflect.DeepEqual(ids, []int{49406, 49407}) {
		t.Errorf("length 2: %v %v", ids, err)
	}
}

func TestCleanAndSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"İ", []string{"i", "\u0307"}},
		{"ΣΑΣ Σ AΣ.", []string{"σας", "σ", "aς", "."}},
		{"a\x1cb", []string{"a", "b"}},
		{"x'sy 'll", []string{"x", "'s", "y", "'ll"}},
		{"!'s", []string{"!'", "s"}},
		{"(<|endoftext|>", []string{"(<|", "endoftext", "|>"}},
		{"12ab", []string{"1", "2", "ab"}},
		{"bad\xffutf8", []string{"bad", "\uFFFD", "utf", "8"}},
		{"&amp;lt;", []string{"<"}},
	}
	for _, c := range cases {
		var got []string
		splitWords(clean(c.in), func(w string) { got = append(got, w) })
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("split(clean(%q)) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := defaultTokenizer(t)
	cases := loadCases(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			if g == 0 {
				_, _ = tok.AddToken("<concurrent>")
			}
			for _, c := range cases {
				if got := tok.Encode(c.Text); len(got) != len(c.IDs) {
					t.Errorf("%s: %d ids, want %d", c.Name, len(got), len(c.IDs))
				}
			}
		}(g)
	}
	wg.Wait()
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"a photo of a cat", "İΣ'S &amp; <|endoftext|>", "\xff\xfe", "🐱👍🏽"} {
		f.Add(s)
	}
	tok, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	if _, err := tok.AddToken("<x>"); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("id %d out of range", id)
			}
		}
		padded, err := tok.EncodePadded(s, SDLength)
		if err != nil || len(padded) != SDLength {
			t.Fatalf("EncodePadded: %d ids, %v", len(padded), err)
		}
		_ = tok.Decode(ids)
	})
}

func BenchmarkEncode(b *testing.B) {
	tok := defaultTokenizer(b)
	cases := loadCases(b)
	long := cases[len(cases)-1].Text
	b.Run("long-uncached", func(b *testing.B) {
		b.SetBytes(int64(len(long)))
		for i := 0; i < b.N; i++ {
			tok.v.cache.mu.Lock()
			tok.v.cache.m = nil
			tok.v.cache.mu.Unlock()
			_ = tok.Encode(long)
		}
	})
	b.Run("long-cached", func(b *testing.B) {
		b.SetBytes(int64(len(long)))
		for i := 0; i < b.N; i++ {
			_ = tok.Encode(long)
		}
	})
}

func BenchmarkLoadEmbedded(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if _, err := LoadFS(assets.CLIP, "clip"); err != nil {
			b.Fatal(err)
		}
	}
}

func TestClone(t *testing.T) {
	base := defaultTokenizer(t)
	if _, err := base.AddToken("<handstand>"); err != nil {
		t.Fatal(err)
	}
	c := base.Clone()
	id, err := c.AddToken("<pray>")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Encode("a <handstand> and a <pray>"); !slices.Contains(got, id) || !slices.Contains(got, 49408) {
		t.Errorf("clone encodes %v: want both added tokens", got)
	}
	if _, ok := base.TokenID("<pray>"); ok || len(base.AddedTokens()) != 1 {
		t.Errorf("a token added to the clone reached the original: %v", base.AddedTokens())
	}
	if id2, err := base.AddToken("<salute>"); err != nil || id2 != id {
		t.Errorf("original's next id %d, %v; want %d (independent numbering)", id2, err, id)
	}
}
