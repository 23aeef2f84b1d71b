package prompt

import (
	"strings"
	"testing"

	"kata/model/tokenizer"
)

// With CLIP's own tokenizer: a long comma-separated prompt breaks after a
// comma, a learned identifier keeps its weight inside a span, and the
// chunks are framed with CLIP's BOS/EOS.
func TestChunksWithCLIPTokenizer(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	id, err := tok.AddToken("<handstand>")
	if err != nil {
		t.Fatal(err)
	}
	commaIDs := tok.Encode(",")
	if len(commaIDs) != 1 {
		t.Fatalf("comma encodes as %v", commaIDs)
	}
	opt := ChunkOptions{BOS: tok.BOS(), EOS: tok.EOS(), Comma: commaIDs[0]}

	// "a dog" (2 tokens) and 30 items of "red cat," (3 tokens each): the
	// first chunk is full at 75 tokens with its last comma at position 74,
	// so the "red" after it moves to the second chunk, which starts with it.
	text := "a dog " + strings.Repeat("red cat, ", 30) + "(a panda <handstand>:1.2)"
	spans, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := SplitChunks(Segments(spans, tok.Encode), opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 {
		t.Fatalf("%d chunks", len(chunks))
	}
	for _, c := range chunks {
		if c.IDs[0] != tok.BOS() || c.IDs[len(c.IDs)-1] != tok.EOS() || len(c.IDs) != 77 {
			t.Errorf("chunk not framed: %v", c.IDs)
		}
	}
	red := tok.Encode("red")[0]
	if chunks[0].IDs[74] != opt.Comma || chunks[0].IDs[75] != tok.EOS() || chunks[1].IDs[1] != red {
		t.Errorf("not broken after the last comma: %v | %v", chunks[0].IDs[70:], chunks[1].IDs[:4])
	}
	found := false
	for i, v := range chunks[1].IDs {
		if v == id {
			found = true
			if chunks[1].Weights[i] != 1.2 {
				t.Errorf("identifier weight %g", chunks[1].Weights[i])
			}
		}
	}
	if !found {
		t.Errorf("identifier %d missing from %v", id, chunks[1].IDs)
	}
}
