package backend

import "golang.org/x/sys/cpu"

// cpuFeatures are the x86 extensions Kata's kernels select on (gemm: AVX-512F,
// AVX2+FMA; vmath: AVX2+FMA) and those that would matter to half-precision
// weights (F16C, AVX-512BF16; Kata converts f16/bf16 to float32 on load).
func cpuFeatures() []cpuFeature {
	return []cpuFeature{
		{"AVX2", cpu.X86.HasAVX2},
		{"FMA", cpu.X86.HasFMA},
		{"AVX-512F", cpu.X86.HasAVX512F},
		{"AVX-512BF16", cpu.X86.HasAVX512BF16},
		{"F16C", cpu.X86.HasF16C},
	}
}
