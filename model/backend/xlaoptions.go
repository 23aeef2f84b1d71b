package backend

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Environment variables of XLAOptionsFromEnv. JAX's XLA_PYTHON_CLIENT_*
// variables are read by JAX's Python client, not by the PJRT plugin, so they
// do not reach go-xla; the plugin takes these settings as client options.
const (
	EnvXLAPreallocate = "KATA_XLA_PREALLOCATE"  // "true"/"false"; default false
	EnvXLAMemFraction = "KATA_XLA_MEM_FRACTION" // 0 < f <= 1; default the plugin's (0.75)
	EnvXLAAllocator   = "KATA_XLA_ALLOCATOR"    // default, platform, bfc or cuda_async
)

// XLAOptions are the allocator settings of the PJRT CUDA client, passed as
// its create options ("preallocate", "memory_fraction", "allocator", the
// names XLA's GPU plugin accepts). The zero value is Kata's default: no
// preallocation (the pool grows as graphs need it, up to the plugin's
// default fraction of the GPU's memory) and the plugin's default allocator.
type XLAOptions struct {
	// Preallocate reserves MemoryFraction of the GPU's memory when the client
	// starts (PJRT's own default is true, with 75%); Kata's default is false.
	Preallocate bool
	// MemoryFraction bounds the allocator's pool to this fraction of the
	// GPU's memory, in (0, 1]; 0 keeps the plugin's default.
	MemoryFraction float64
	// Allocator is "default" (XLA's BFC pool), "bfc", "platform" (one
	// cudaMalloc/cudaFree per buffer: the smallest footprint, the slowest,
	// and the only one that gives memory back) or "cuda_async"; "" keeps the
	// plugin's default.
	Allocator string
}

// XLAOptionsFromEnv reads XLAOptions from KATA_XLA_PREALLOCATE,
// KATA_XLA_MEM_FRACTION and KATA_XLA_ALLOCATOR (unset: the zero value).
func XLAOptionsFromEnv() (XLAOptions, error) {
	var o XLAOptions
	if v := strings.TrimSpace(os.Getenv(EnvXLAPreallocate)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, fmt.Errorf("$%s=%q: want true or false", EnvXLAPreallocate, v)
		}
		o.Preallocate = b
	}
	if v := strings.TrimSpace(os.Getenv(EnvXLAMemFraction)); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return o, fmt.Errorf("$%s=%q: want a fraction in (0, 1]", EnvXLAMemFraction, v)
		}
		o.MemoryFraction = f
	}
	o.Allocator = strings.TrimSpace(strings.ToLower(os.Getenv(EnvXLAAllocator)))
	return o, o.Validate()
}

// Validate reports a setting the plugin would refuse or misread.
func (o XLAOptions) Validate() error {
	if o.MemoryFraction < 0 || o.MemoryFraction > 1 {
		return fmt.Errorf("XLA memory fraction %g: want a fraction in (0, 1] (or 0 for the plugin's default)", o.MemoryFraction)
	}
	switch o.Allocator {
	case "", "default", "bfc", "platform", "cuda_async":
		return nil
	}
	return fmt.Errorf("XLA allocator %q: want default, bfc, platform or cuda_async", o.Allocator)
}

// clientOptions are the PJRT client create options of o for plugin: only
// the CUDA plugin takes them (the CPU one refuses unknown options).
func (o XLAOptions) clientOptions(plugin string) map[string]any {
	if plugin != "cuda" {
		return nil
	}
	opts := map[string]any{"preallocate": o.Preallocate}
	if o.MemoryFraction > 0 {
		opts["memory_fraction"] = float32(o.MemoryFraction)
	}
	if o.Allocator != "" {
		opts["allocator"] = o.Allocator
	}
	return opts
}

// String describes o as Kata applies it to a CUDA client.
func (o XLAOptions) String() string {
	frac := "plugin default"
	if o.MemoryFraction > 0 {
		frac = strconv.FormatFloat(o.MemoryFraction, 'g', -1, 64)
	}
	alloc := o.Allocator
	if alloc == "" {
		alloc = "plugin default"
	}
	return fmt.Sprintf("preallocate %v, memory fraction %s, allocator %s", o.Preallocate, frac, alloc)
}
