// Package safetensors reads and writes the safetensors tensor file format:
// an 8-byte little-endian header length N, N bytes of JSON header, then the
// raw little-endian tensor data, each tensor a contiguous row-major byte range.
//
// Reading memory-maps the file where the platform allows it, so a multi-GB
// checkpoint costs address space, not RAM; tensors are converted to host
// slices one at a time, on demand. Headers are validated strictly (as the
// reference Rust implementation does), so hostile or truncated files give
// errors, never panics.
package safetensors
