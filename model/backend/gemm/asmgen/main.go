// Command asmgen generates the amd64 SGEMM micro-kernels of package gemm with avo,
// and the loops that widen half-precision operands while they are packed
// (widen.go).
//
// Run through `go generate ./model/backend/gemm` (see the //go:generate line in
// gemm.go); it writes kernels_amd64.s and kernels_amd64_stubs.go.
//
// Each kernel computes one MR x NR tile of C from packed panels:
//
//	C[i][j] (+)= sum_p A[p*MR+i] * B[p*NR+j],  p < kc
//
// A holds MR values per step (broadcast one at a time), B holds NR values per step
// (loaded as NR/lanes vectors); the tile lives in registers for the whole loop and
// is stored (accumulate == 0) or added (accumulate != 0) to C rows ldc floats apart.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	"github.com/mmcloughlin/avo/reg"
)

// spec describes one kernel shape for one instruction set.
type spec struct {
	name     string
	mr, nr   int
	vecBytes int
	acc      []reg.VecPhysical // mr*nr/lanes accumulators, row-major
	bregs    []reg.VecPhysical // nr/lanes B vectors
	bcast    []reg.VecPhysical // rotating broadcast registers
	zero     func(r reg.VecPhysical)
	isaDoc   string
}

func main() {
	ConstraintExpr("amd64")

	z := []reg.VecPhysical{reg.Z0, reg.Z1, reg.Z2, reg.Z3, reg.Z4, reg.Z5, reg.Z6, reg.Z7, reg.Z8, reg.Z9,
		reg.Z10, reg.Z11, reg.Z12, reg.Z13, reg.Z14, reg.Z15, reg.Z16, reg.Z17, reg.Z18, reg.Z19, reg.Z20,
		reg.Z21, reg.Z22, reg.Z23, reg.Z24, reg.Z25, reg.Z26, reg.Z27, reg.Z28, reg.Z29, reg.Z30, reg.Z31}
	y := []reg.VecPhysical{reg.Y0, reg.Y1, reg.Y2, reg.Y3, reg.Y4, reg.Y5, reg.Y6, reg.Y7, reg.Y8, reg.Y9,
		reg.Y10, reg.Y11, reg.Y12, reg.Y13, reg.Y14, reg.Y15}

	generate(spec{
		name: "kernelAVX512", mr: 12, nr: 32, vecBytes: 64,
		acc: z[:24], bregs: z[24:26], bcast: z[26:30],
		// VXORPS on ZMM needs AVX512DQ; VPXORD is AVX512F.
		zero:   func(r reg.VecPhysical) { VPXORD(r, r, r) },
		isaDoc: "AVX-512F",
	})
	generate(spec{
		name: "kernelAVX2", mr: 6, nr: 16, vecBytes: 32,
		acc: y[:12], bregs: y[12:14], bcast: y[14:16],
		zero:   func(r reg.VecPhysical) { VXORPS(r, r, r) },
		isaDoc: "AVX2 and FMA3",
	})
	peak("fmaPeakAVX512", z[:24], z[24], z[25], 64, func(r reg.VecPhysical) { VPXORD(r, r, r) }, "AVX-512F")
	peak("fmaPeakAVX2", y[:12], y[12], y[13], 32, func(r reg.VecPhysical) { VXORPS(r, r, r) }, "AVX2 and FMA3")
	widenKernels()
	Generate()
}

// peak emits a loop of independent register-only FMAs: iters x len(acc) FMAs,
// which measures the core's FMA throughput (the GEMM kernels' ceiling).
func peak(name string, acc []reg.VecPhysical, s1, s2 reg.VecPhysical, vecBytes int, zero func(reg.VecPhysical), isa string) {
	TEXT(name, NOSPLIT, "func(iters int)")
	Doc(fmt.Sprintf("%s runs iters x %d independent %d-bit FMAs (needs %s).", name, len(acc), vecBytes*8, isa))
	n := Load(Param("iters"), GP64())
	for _, r := range append(acc, s1, s2) {
		zero(r)
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_done"))
	Label(name + "_loop")
	for _, r := range acc {
		VFMADD231PS(s1, s2, r)
	}
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

func generate(s spec) {
	lanes := s.vecBytes / 4
	nv := s.nr / lanes
	TEXT(s.name, NOSPLIT, "func(kc int, a, b, c *float32, ldc int, accumulate int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx%d tile of C from packed A and B panels (needs %s).", s.name, s.mr, s.nr, s.isaDoc))

	kc := Load(Param("kc"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())

	for _, r := range s.acc {
		s.zero(r)
	}
	TESTQ(kc, kc)
	JZ(LabelRef(s.name + "_store"))

	Label(s.name + "_loop")
	for j := 0; j < nv; j++ {
		VMOVUPS(Mem{Base: b, Disp: j * s.vecBytes}, s.bregs[j])
	}
	for i := 0; i < s.mr; i++ {
		bc := s.bcast[i%len(s.bcast)]
		VBROADCASTSS(Mem{Base: a, Disp: 4 * i}, bc)
		for j := 0; j < nv; j++ {
			VFMADD231PS(s.bregs[j], bc, s.acc[i*nv+j])
		}
	}
	ADDQ(U32(4*s.mr), a)
	ADDQ(U32(4*s.nr), b)
	DECQ(kc)
	JNZ(LabelRef(s.name + "_loop"))

	Label(s.name + "_store")
	c := Load(Param("c"), GP64())
	ldc := Load(Param("ldc"), GP64())
	SHLQ(U8(2), ldc)
	accumulate := Load(Param("accumulate"), GP64())
	TESTQ(accumulate, accumulate)
	JZ(LabelRef(s.name + "_overwrite"))
	for i := 0; i < s.mr; i++ {
		for j := 0; j < nv; j++ {
			m := Mem{Base: c, Disp: j * s.vecBytes}
			VADDPS(m, s.acc[i*nv+j], s.acc[i*nv+j])
			VMOVUPS(s.acc[i*nv+j], m)
		}
		if i < s.mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()

	Label(s.name + "_overwrite")
	for i := 0; i < s.mr; i++ {
		for j := 0; j < nv; j++ {
			VMOVUPS(s.acc[i*nv+j], Mem{Base: c, Disp: j * s.vecBytes})
		}
		if i < s.mr-1 {
			ADDQ(ldc, c)
		}
	}
	VZEROUPPER()
	RET()
}
