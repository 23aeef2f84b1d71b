package vmath

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

var hasSIMD = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// expSIMD handles the longest multiple-of-8 prefix and returns its length.
func expSIMD(dst, src []float32) int {
	n := len(src) &^ 7
	if !hasSIMD || n == 0 {
		return 0
	}
	expAVX2(n, unsafe.SliceData(dst), unsafe.SliceData(src))
	return n
}
