package prompt

import "fmt"

// Token is one token id of a prompt with the attention weight of the span
// it came from.
type Token struct {
	ID     int
	Weight float64
}

// Segment is the tokens of one Span (without BOS/EOS); Break marks a BREAK,
// which carries no tokens.
type Segment struct {
	Tokens []Token
	Break  bool
}

// ChunkOptions are the token ids and lengths of the chunking rule.
type ChunkOptions struct {
	BOS, EOS int // framing tokens; EOS also pads a short chunk (SD 1.x's CLIP pads with EOS)
	Comma    int // the id of "," (267 in CLIP's vocabulary); -1 disables the comma rule
	// Length is the number of prompt tokens per chunk; 0 means 75.
	Length int
	// CommaBacktrack is how far back from a full chunk's end a comma may be
	// to move the text after it into the next chunk (AUTOMATIC1111's
	// comma_padding_backtrack); 0 means 20, negative disables it.
	CommaBacktrack int
}

// Chunk is one text-encoder input: Length+2 token ids (BOS, tokens, EOS
// padding, EOS) and the weight of each position (1 for BOS, EOS and padding).
type Chunk struct {
	IDs     []int
	Weights []float64
}

// SplitChunks cuts a prompt's tokens into chunks as AUTOMATIC1111's
// FrozenCLIPEmbedderWithCustomWords.tokenize_line does: a chunk holds up to
// Length tokens; when it is full and the next token is not a comma, and a
// comma lies at most CommaBacktrack tokens before the end, the tokens after
// that comma move to the next chunk; a BREAK closes the current chunk (even
// an empty one). Each chunk is padded with EOS to Length and framed by BOS
// and EOS. An empty prompt gives one chunk. The encodings of the chunks are
// concatenated along the sequence axis by the caller.
func SplitChunks(segments []Segment, opt ChunkOptions) ([]Chunk, error) {
	n := opt.Length
	if n == 0 {
		n = 75
	}
	if n < 1 {
		return nil, fmt.Errorf("prompt: chunk length %d", opt.Length)
	}
	backtrack := opt.CommaBacktrack
	if backtrack == 0 {
		backtrack = 20
	}
	var chunks []Chunk
	var ids []int
	var ws []float64
	lastComma := -1
	next := func() {
		c := Chunk{IDs: make([]int, 0, n+2), Weights: make([]float64, 0, n+2)}
		c.IDs = append(append(c.IDs, opt.BOS), ids...)
		c.Weights = append(append(c.Weights, 1), ws...)
		for len(c.IDs) < n+1 {
			c.IDs = append(c.IDs, opt.EOS)
			c.Weights = append(c.Weights, 1)
		}
		c.IDs = append(c.IDs, opt.EOS)
		c.Weights = append(c.Weights, 1)
		chunks = append(chunks, c)
		ids, ws, lastComma = nil, nil, -1
	}
	for _, seg := range segments {
		if seg.Break {
			next()
			continue
		}
		for _, t := range seg.Tokens {
			if opt.Comma >= 0 && t.ID == opt.Comma {
				lastComma = len(ids)
			} else if backtrack > 0 && len(ids) == n && lastComma != -1 && len(ids)-lastComma <= backtrack {
				at := lastComma + 1
				movedIDs := append([]int(nil), ids[at:]...)
				movedWs := append([]float64(nil), ws[at:]...)
				ids, ws = ids[:at], ws[:at]
				next()
				ids, ws = movedIDs, movedWs
			}
			if len(ids) == n {
				next()
			}
			ids = append(ids, t.ID)
			ws = append(ws, t.Weight)
		}
	}
	if len(ids) > 0 || len(chunks) == 0 {
		next()
	}
	return chunks, nil
}

// Segments tokenises spans with encode (token ids without BOS/EOS, such as
// model/tokenizer's Tokenizer.Encode) and gives each token its span's
// weight; BREAK spans become Break segments. A BREAK inside brackets also
// breaks here; AUTOMATIC1111 compares its weight with -1 and would encode
// the word "BREAK" with the negative weight -1.1 instead, an artefact this
// package does not copy.
func Segments(spans []Span, encode func(text string) []int) []Segment {
	out := make([]Segment, 0, len(spans))
	for _, s := range spans {
		if s.Break {
			out = append(out, Segment{Break: true})
			continue
		}
		ids := encode(s.Text)
		seg := Segment{Tokens: make([]Token, len(ids))}
		for i, id := range ids {
			seg.Tokens[i] = Token{ID: id, Weight: s.Weight}
		}
		out = append(out, seg)
	}
	return out
}

// EmptyChunk is the chunk of an empty prompt: BOS, Length+1 EOS, all of
// weight 1 (AUTOMATIC1111's empty_chunk).
func EmptyChunk(opt ChunkOptions) Chunk {
	c, _ := SplitChunks(nil, opt)
	if len(c) == 0 {
		return Chunk{}
	}
	return c[0]
}

// PadChunks appends empty chunks to chunks until there are n, as
// AUTOMATIC1111 pads the prompts of one batch (and, with its "pad prompt/
// negative prompt" option, a prompt and its negative) to one length; a
// prompt with n or more chunks is returned as it is.
func PadChunks(chunks []Chunk, n int, opt ChunkOptions) []Chunk {
	out := append([]Chunk(nil), chunks...)
	for len(out) < n {
		out = append(out, EmptyChunk(opt))
	}
	return out
}
