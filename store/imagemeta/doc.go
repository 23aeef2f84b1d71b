// Package imagemeta reads and writes the generation settings that Kata images
// carry: the AUTOMATIC1111 "parameters" text (so other Stable Diffusion tools
// show and reuse them) and a JSON chunk of Kata's own, in PNG text chunks and in
// the EXIF UserComment of JPEG files.
package imagemeta
