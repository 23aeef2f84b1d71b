package gemm

import "unsafe"

// kernel is an MR x NR micro-kernel: fn computes C[i][j] (+)= sum_p a[p*mr+i]*b[p*nr+j]
// over kc steps for the tile at c (rows ldc apart), adding when accumulate != 0.
type kernel struct {
	name   string
	mr, nr int
	fn     func(kc int, a, b, c []float32, ldc, accumulate int)
}

// goKernel is the portable 4x8 kernel used when no SIMD kernel applies.
var goKernel = &kernel{name: "go", mr: 4, nr: 8, fn: kernelGo}

func kernelGo(kc int, a, b, c []float32, ldc, accumulate int) {
	const mr, nr = 4, 8
	var acc [mr][nr]float32
	a = a[:kc*mr]
	b = b[:kc*nr]
	for p := range kc {
		av := (*[mr]float32)(a[p*mr:])
		bv := (*[nr]float32)(b[p*nr:])
		for i := range mr {
			ai := av[i]
			row := &acc[i]
			for j := range nr {
				row[j] += ai * bv[j]
			}
		}
	}
	for i := range mr {
		row := (*[nr]float32)(c[i*ldc:])
		if accumulate != 0 {
			for j := range nr {
				row[j] += acc[i][j]
			}
		} else {
			*row = acc[i]
		}
	}
}

// asmKernel adapts an assembly kernel, checking the slice bounds it will touch so
// that a packing or tiling bug panics in Go instead of corrupting memory.
func asmKernel(name string, mr, nr int, fn func(kc int, a, b, c *float32, ldc, accumulate int)) *kernel {
	return &kernel{name: name, mr: mr, nr: nr, fn: func(kc int, a, b, c []float32, ldc, accumulate int) {
		_ = a[kc*mr-1]
		_ = b[kc*nr-1]
		_ = c[(mr-1)*ldc+nr-1]
		fn(kc, unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), ldc, accumulate)
	}}
}
