// Package prompt reads prompts written in AUTOMATIC1111's syntax and turns
// them into what the text encoder needs:
//
//   - Parse: attention/emphasis spans "(word)" (×1.1), "[word]" (÷1.1),
//     "(word:1.3)" (×1.3), nesting, escaped brackets "\(" "\)" "\[" "\]",
//     and the BREAK keyword, into runs of text with one weight each;
//   - ExtractNetworks: "<lora:name:weight>" tags (and other extra-network
//     tags such as "<hypernet:...>"), removed from the text and returned;
//   - SplitChunks: the rule that cuts a long prompt's tokens into chunks of
//     75 tokens, each framed by BOS and EOS, preferring a break after a
//     comma within the last 20 tokens of a chunk;
//   - Emphasize: the emphasis applied to a chunk's encodings (multiply each
//     token's vector by its weight, then rescale to the original mean).
//
// The package has no dependency on a model: tokenisation and encoding are the
// caller's (model/tokenizer, model/sd).
package prompt
