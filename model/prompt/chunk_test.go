package prompt

import (
	"reflect"
	"strings"
	"testing"
)

const (
	bos, eos, comma = 49406, 49407, 267
)

func opts() ChunkOptions { return ChunkOptions{BOS: bos, EOS: eos, Comma: comma} }

// plain returns one segment of n tokens with ids start, start+1, ... and weight w.
func plain(start, n int, w float64) Segment {
	s := Segment{}
	for i := range n {
		s.Tokens = append(s.Tokens, Token{ID: start + i, Weight: w})
	}
	return s
}

func ids(c Chunk) []int { return c.IDs[1 : len(c.IDs)-1] }

func TestSplitChunks(t *testing.T) {
	withComma := func(at, n int) Segment {
		s := plain(1, n, 1)
		s.Tokens[at].ID = comma
		return s
	}
	seq := func(from, to int) []int {
		var out []int
		for i := from; i < to; i++ {
			out = append(out, i)
		}
		return out
	}
	pad := func(xs []int, n int) []int {
		for len(xs) < n {
			xs = append(xs, eos)
		}
		return xs
	}
	cases := []struct {
		name string
		segs []Segment
		want [][]int // prompt tokens of each chunk (between BOS and the final EOS)
	}{
		{"empty", nil, [][]int{pad(nil, 75)}},
		{"short", []Segment{plain(1, 3, 1)}, [][]int{pad(seq(1, 4), 75)}},
		{"exactly 75", []Segment{plain(1, 75, 1)}, [][]int{seq(1, 76)}},
		{"76 tokens, no comma", []Segment{plain(1, 76, 1)}, [][]int{seq(1, 76), pad([]int{76}, 75)}},
		// a comma at position 60 (15 from the end): tokens after it move on
		{"comma backtrack", []Segment{withComma(60, 80)}, [][]int{
			pad(append(seq(1, 61), comma), 75), pad(seq(62, 81), 75)}},
		// a comma 30 tokens from the end is too far back
		{"comma too far", []Segment{withComma(44, 80)}, [][]int{
			append(append(seq(1, 45), comma), seq(46, 76)...), pad(seq(76, 81), 75)}},
		// the 76th token being a comma itself does not trigger the move
		{"comma at 76", []Segment{withComma(75, 77)}, [][]int{seq(1, 76), pad([]int{comma, 77}, 75)}},
		{"break", []Segment{plain(1, 2, 1), {Break: true}, plain(3, 1, 1)}, [][]int{
			pad(seq(1, 3), 75), pad([]int{3}, 75)}},
		{"break first", []Segment{{Break: true}, plain(1, 1, 1)}, [][]int{pad(nil, 75), pad([]int{1}, 75)}},
		{"break last", []Segment{plain(1, 1, 1), {Break: true}}, [][]int{pad([]int{1}, 75)}},
		{"150 tokens", []Segment{plain(1, 150, 1)}, [][]int{seq(1, 76), seq(76, 151)}},
	}
	for _, c := range cases {
		got, err := SplitChunks(c.segs, opts())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s: %d chunks, want %d", c.name, len(got), len(c.want))
			continue
		}
		for i, ch := range got {
			if len(ch.IDs) != 77 || len(ch.Weights) != 77 || ch.IDs[0] != bos || ch.IDs[76] != eos {
				t.Errorf("%s chunk %d: not framed: %v", c.name, i, ch.IDs)
			}
			if !reflect.DeepEqual(ids(ch), c.want[i]) {
				t.Errorf("%s chunk %d: %v, want %v", c.name, i, ids(ch), c.want[i])
			}
		}
	}
}

func TestSplitChunksWeights(t *testing.T) {
	got, err := SplitChunks([]Segment{plain(1, 2, 1.1), plain(3, 1, 0.5)}, ChunkOptions{BOS: bos, EOS: eos, Comma: -1, Length: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := Chunk{IDs: []int{bos, 1, 2, 3, eos, eos}, Weights: []float64{1, 1.1, 1.1, 0.5, 1, 1}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Errorf("chunks %+v, want %+v", got, want)
	}
	// Moved tokens keep their weights.
	s := plain(1, 6, 2)
	s.Tokens[2] = Token{ID: comma, Weight: 3}
	got, _ = SplitChunks([]Segment{s}, ChunkOptions{BOS: bos, EOS: eos, Comma: comma, Length: 4, CommaBacktrack: 2})
	if len(got) != 2 || !reflect.DeepEqual(got[1].IDs, []int{bos, 4, 5, 6, eos, eos}) ||
		!reflect.DeepEqual(got[1].Weights, []float64{1, 2, 2, 2, 1, 1}) {
		t.Errorf("backtracked chunks %+v", got)
	}
	if _, err := SplitChunks(nil, ChunkOptions{Length: -3}); err == nil {
		t.Error("negative length accepted")
	}
}

func TestSegments(t *testing.T) {
	spans, err := Parse("a (b c:1.5) BREAK d")
	if err != nil {
		t.Fatal(err)
	}
	encode := func(s string) []int {
		var out []int
		for _, w := range strings.Fields(s) {
			out = append(out, int(w[0]))
		}
		return out
	}
	segs := Segments(spans, encode)
	want := []Segment{
		{Tokens: []Token{{'a', 1}}},
		{Tokens: []Token{{'b', 1.5}, {'c', 1.5}}},
		{Tokens: []Token{}},
		{Break: true},
		{Tokens: []Token{{'d', 1}}},
	}
	if !reflect.DeepEqual(segs, want) {
		t.Errorf("segments %+v\nwant %+v (spans %+v)", segs, want, spans)
	}
}

func TestPadChunks(t *testing.T) {
	o := ChunkOptions{BOS: bos, EOS: eos, Comma: comma, Length: 3}
	one, _ := SplitChunks([]Segment{plain(1, 2, 1.5)}, o)
	got := PadChunks(one, 3, o)
	empty := Chunk{IDs: []int{bos, eos, eos, eos, eos}, Weights: []float64{1, 1, 1, 1, 1}}
	if len(got) != 3 || !reflect.DeepEqual(got[0], one[0]) || !reflect.DeepEqual(got[1], empty) || !reflect.DeepEqual(got[2], empty) {
		t.Errorf("padded %+v", got)
	}
	if len(PadChunks(got, 2, o)) != 3 {
		t.Error("a longer prompt was cut")
	}
	if !reflect.DeepEqual(EmptyChunk(o), empty) {
		t.Errorf("empty chunk %+v", EmptyChunk(o))
	}
}
