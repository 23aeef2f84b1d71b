package gemm

import "golang.org/x/sys/cpu"

// hasWidenAsm reports whether widenF16 (F16C) and widenBF16 (AVX2) can run.
func hasWidenAsm() bool { return cpu.X86.HasAVX2 && cpu.X86.HasF16C }
