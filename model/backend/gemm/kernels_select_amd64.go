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

// peakLoop returns the FMA throughput loop of a kernel's instruction set and the
// flops of one iteration.
func peakLoop(kernel string) (func(iters int), float64) {
	switch {
	case kernel == "avx512" && cpu.X86.HasAVX512F:
		return fmaPeakAVX512, 24 * 16 * 2
	case kernel == "avx2" && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return fmaPeakAVX2, 12 * 8 * 2
	}
	return nil, 0
}
