//go:build !linux

package safetensors

// adviseHugePages does nothing: transparent huge page advice is Linux's.
func adviseHugePages([]byte) {}
