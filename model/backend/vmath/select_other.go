//go:build !amd64

package vmath

const hasSIMD = false

// hasAVX512 and useAVX512 are there for the tests (see select_amd64.go).
const hasAVX512 = false

var useAVX512 = false

func expSIMD(dst, src []float32) int { return 0 }

func logisticSIMD(dst, src []float32) int { return 0 }

func erfSIMD(dst, src []float32) int { return 0 }

func binarySIMD(Op, []float32, []float32, []float32, bool, bool, bool) int { return 0 }

func sumSIMD([]float32) (int, float32) { return 0, 0 }

func maxSIMD([]float32) (int, float32) { return 0, 0 }

func dots4SIMD(int, []float32, []float32, int, []float32) {}

func axpy4SIMD(int, []float32, []float32, []float32, int) {}
