//go:build !amd64

package backend

// cpuFeatures: Kata has SIMD kernels for amd64 only; elsewhere the portable
// Go kernels run.
func cpuFeatures() []cpuFeature {
	return []cpuFeature{{"SIMD kernels for this CPU", false}}
}
