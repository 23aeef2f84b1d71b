package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// widen emits func(dst *float32, dstStride int, src *uint16, srcStride, width,
// steps int), which widens `steps` runs of `width` 16-bit values, srcStride
// elements apart from src, into float32 runs dstStride elements apart from
// dst: the packing of a half-precision GEMM operand (a contiguous run is
// steps = 1). Runs go 8 values at a time, then 4, then one by one; cvt8,
// cvt4 and cvt1 widen from memory into Y0, X0 and X0.
func widen(name, isa, format string, cvt8, cvt4 func(m Mem), cvt1 func(s reg.GPVirtual)) {
	TEXT(name, NOSPLIT, "func(dst *float32, dstStride int, src *uint16, srcStride, width, steps int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s widens steps runs of width %s values (srcStride apart) to float32 runs dstStride apart, exactly (needs %s).", name, format, isa))
	dst := Load(Param("dst"), GP64())
	ds := Load(Param("dstStride"), GP64())
	SHLQ(U8(2), ds)
	src := Load(Param("src"), GP64())
	ss := Load(Param("srcStride"), GP64())
	SHLQ(U8(1), ss)
	width := Load(Param("width"), GP64())
	steps := Load(Param("steps"), GP64())
	d, s, w := GP64(), GP64(), GP64()
	TESTQ(steps, steps)
	JZ(LabelRef(name + "_done"))

	Label(name + "_step")
	MOVQ(dst, d)
	MOVQ(src, s)
	MOVQ(width, w)
	Label(name + "_by8")
	CMPQ(w, U8(8))
	JL(LabelRef(name + "_by4"))
	cvt8(Mem{Base: s})
	VMOVUPS(reg.Y0, Mem{Base: d})
	ADDQ(U8(16), s)
	ADDQ(U8(32), d)
	SUBQ(U8(8), w)
	JMP(LabelRef(name + "_by8"))
	Label(name + "_by4")
	CMPQ(w, U8(4))
	JL(LabelRef(name + "_by1"))
	cvt4(Mem{Base: s})
	VMOVUPS(reg.X0, Mem{Base: d})
	ADDQ(U8(8), s)
	ADDQ(U8(16), d)
	SUBQ(U8(4), w)
	Label(name + "_by1")
	TESTQ(w, w)
	JZ(LabelRef(name + "_next"))
	t := GP32()
	MOVWLZX(Mem{Base: s}, t)
	cvt1(t)
	VMOVSS(reg.X0, Mem{Base: d})
	ADDQ(U8(2), s)
	ADDQ(U8(4), d)
	DECQ(w)
	JMP(LabelRef(name + "_by1"))

	Label(name + "_next")
	ADDQ(ds, dst)
	ADDQ(ss, src)
	DECQ(steps)
	JNZ(LabelRef(name + "_step"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// widenKernels emits the float16 (F16C VCVTPH2PS) and bfloat16 (AVX2 zero
// extension and shift: bfloat16 is the upper half of a float32) widening loops.
func widenKernels() {
	widen("widenF16", "AVX and F16C", "float16",
		func(m Mem) { VCVTPH2PS(m, reg.Y0) },
		func(m Mem) { VCVTPH2PS(m, reg.X0) },
		func(t reg.GPVirtual) {
			VMOVD(t, reg.X0)
			VCVTPH2PS(reg.X0, reg.X0)
		})
	widen("widenBF16", "AVX2", "bfloat16",
		func(m Mem) {
			VPMOVZXWD(m, reg.Y0)
			VPSLLD(U8(16), reg.Y0, reg.Y0)
		},
		func(m Mem) {
			VPMOVZXWD(m, reg.X0)
			VPSLLD(U8(16), reg.X0, reg.X0)
		},
		func(t reg.GPVirtual) {
			SHLL(U8(16), t)
			VMOVD(t, reg.X0)
		})
}
