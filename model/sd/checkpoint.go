package sd

// InfotextHash returns the "Model hash" AUTOMATIC1111 writes for this model:
// Hash (the first 10 hex digits of the checkpoint file's SHA-256) for a
// single-file checkpoint, "" for a diffusers folder, which A1111 does not
// load and for which no tool computes Kata's hash of the UNet file.
func (m *Model) InfotextHash() string {
	if m.Format != "single-file" {
		return ""
	}
	return m.Hash
}
