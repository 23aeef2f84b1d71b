// Package safetensors reads and writes the safetensors tensor file format:
// an 8-byte little-endian header length N, N bytes of JSON header, then the
// raw little-endian tensor data, each tensor a contiguous row-major byte range.
//
// Reading memory-maps the file where the platform allows it, so a multi-GB
// checkpoint costs address space, not RAM; tensors are converted to host
// slices one at a time, on demand. Tensors copied as stored (F32 into
// float32, F16/BF16 bits with HalfInto) are read with pread from the open
// file rather than through the mapping, into destinations advised for
// transparent huge pages on Linux: a loader filling gigabytes of fresh
// memory then takes a page fault per 2 MiB, not two per 4 KiB. Headers are validated strictly (as the
// reference Rust implementation does), so hostile or truncated files give
// errors, never panics.
package safetensors
