package gemm

import "golang.org/x/sys/cpu"

var (
	avx512Kernel = asmKernel("avx512", 12, 32, kernelAVX512)
	avx2Kernel   = asmKernel("avx2", 6, 16, kernelAVX2)
)

// kernels lists the kernels this CPU (and OS) supports, best first.
func kernels() []*kernel {
	var ks []*kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, goKernel)
}

func bestKernel() *kernel { return kernels()[0] }
