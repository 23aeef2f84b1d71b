//go:build !amd64

package gemm

func hasWidenAsm() bool { return false }

// The assembly loops exist on amd64 only (widenAsm is false elsewhere).

func widenF16(dst *float32, dstStride int, src *uint16, srcStride, width, steps int) {
	panic("gemm: no widening assembly on this architecture")
}

func widenBF16(dst *float32, dstStride int, src *uint16, srcStride, width, steps int) {
	panic("gemm: no widening assembly on this architecture")
}
