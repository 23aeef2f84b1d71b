package assets

import "embed"

// CLIP holds OpenAI CLIP's byte-level BPE vocabulary in the Hugging Face
// CLIPTokenizer layout, as used by every Stable Diffusion 1.x text encoder:
// clip/vocab.json (token -> id, 49408 entries, 49406 <|startoftext|>,
// 49407 <|endoftext|>) and clip/merges.txt ("#version: 0.2" then the 48894
// merges in rank order). model/tokenizer.Default reads it.
//
//go:embed clip/vocab.json clip/merges.txt
var CLIP embed.FS
