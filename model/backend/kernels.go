package backend

import (
	"fmt"
	"log"
	"maps"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"kata/model/backend/gemm"
)

// EnvKernels is the environment variable that, set to "stock", runs every op on
// GoMLX's own executors instead of Kata's (GEMM, convolution, elementwise):
// simplego's executor table is left as it is and no Kata executor runs, not
// even the start-up self-check.
const EnvKernels = "KATA_KERNELS"

// pinnedGoMLX is the only GoMLX version whose internals the executors below are
// written against; with any other version they are not installed.
const pinnedGoMLX = "v0.26.0"

// nodeExecutor mirrors simplego's unexported executor function type.
type nodeExecutor func(backend *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, inputsOwned []bool) (*simplego.Buffer, error)

// nodeExecutors is simplego's dispatch table (backends/simplego/exec.go). GoMLX
// v0.26 has no exported way to register executors; the table is patched once, at
// the first New("go"), after the version and struct layouts were verified.
//
//go:linkname nodeExecutors github.com/gomlx/gomlx/backends/simplego.nodeExecutors
var nodeExecutors [backends.OpTypeLast]nodeExecutor

// nodeMirror has the field layout of simplego.Node in GoMLX v0.26.0 (verified by
// checkLayout before any use), to read the op's output shape and parameters.
type nodeMirror struct {
	builderIdx         int
	inputs             []*simplego.Node
	opType             backends.OpType
	shape              shapes.Shape
	builder            *simplego.Builder
	multiOutputsShapes []shapes.Shape
	multiOutputsNodes  []*simplego.Node
	isNodeSelectOutput bool
	selectOutputIdx    int
	data               any
}

func mirror(node *simplego.Node) *nodeMirror { return (*nodeMirror)(unsafe.Pointer(node)) }

var (
	stockDotGeneral, stockConvGeneral nodeExecutor

	// kernelsOn switches the installed executors between Kata's kernels and the
	// stock ones at run time (tests and benchmarks compare both in one process).
	kernelsOn atomic.Bool

	installOnce  sync.Once
	installError error
	// layoutVerified is set once checkGoMLX passed: simplego's nodes may be read
	// through nodeMirror (the builder does so while the self-check builds graphs,
	// inside installOnce).
	layoutVerified atomic.Bool
	// selfCheckFailed holds the ops whose Kata executor disagreed with GoMLX's
	// at start-up, and why; GoMLX's executor runs them.
	selfCheckFailed map[backends.OpType]error
)

// installKernels patches simplego's executors with Kata's, unless
// KATA_KERNELS=stock or the guard rails fail (then the reason is kept in
// installError and GoMLX's executors stay); selfCheck then puts GoMLX's back
// for any that disagree on this machine.
func installKernels() {
	installOnce.Do(func() {
		if err := checkGoMLX(); err != nil {
			installError = err
			return
		}
		layoutVerified.Store(true)
		if strings.EqualFold(os.Getenv(EnvKernels), "stock") {
			// Nothing of Kata's runs, not even the self-check: the stock path
			// must not depend on the code it is compared with.
			installError = fmt.Errorf("%s=stock", EnvKernels)
			return
		}
		kata := map[backends.OpType]nodeExecutor{
			backends.OpTypeDotGeneral:  execDotGeneral,
			backends.OpTypeConvGeneral: execConvGeneral,
		}
		maps.Copy(kata, elementwiseExecutors)
		for op := range kata {
			if nodeExecutors[op] == nil {
				installError = fmt.Errorf("simplego executor table has no %s entry", op)
				return
			}
			stockExecutors[op] = nodeExecutors[op]
		}
		stockDotGeneral = stockExecutors[backends.OpTypeDotGeneral]
		stockConvGeneral = stockExecutors[backends.OpTypeConvGeneral]
		inner, err := simplego.New("ops_sequential")
		if err != nil {
			installError = fmt.Errorf("self-check backend: %w", err)
			return
		}
		defer inner.Finalize()
		kernelsOn.Store(true)
		selfCheckFailed = selfCheck(&goBackend{Backend: inner}, kata)
		for _, err := range selfCheckFailed {
			log.Printf("kata: self-check: %v; GoMLX's executor stays for this op", err)
		}
		installHalf()
	})
}

// checkGoMLX verifies the linked GoMLX version and the struct layouts mirrored here.
func checkGoMLX() error {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Errorf("no build information: cannot verify the GoMLX version")
	}
	version := ""
	for _, dep := range info.Deps {
		if dep.Path == "github.com/gomlx/gomlx" {
			version = dep.Version
			if dep.Replace != nil {
				version = "replaced by " + dep.Replace.Path + " " + dep.Replace.Version
			}
		}
	}
	if len(info.Deps) == 0 {
		// Test binaries carry no module list: the source path of a simplego function
		// holds the module version (".../gomlx@v0.26.0/backends/simplego/...", with or
		// without -trimpath).
		file, _ := runtime.FuncForPC(reflect.ValueOf(simplego.New).Pointer()).FileLine(reflect.ValueOf(simplego.New).Pointer())
		if _, rest, found := strings.Cut(file, "github.com/gomlx/gomlx@"); found {
			version, _, _ = strings.Cut(rest, "/")
		}
	}
	if version != pinnedGoMLX {
		return fmt.Errorf("GoMLX %q linked, fast kernels are only verified for %s", version, pinnedGoMLX)
	}
	return checkLayout(reflect.TypeOf(simplego.Node{}), reflect.TypeOf(nodeMirror{}))
}

// checkLayout reports whether two struct types have the same fields (names, types
// and offsets), so that one may be read through the other.
func checkLayout(actual, mirrored reflect.Type) error {
	if actual.Kind() != reflect.Struct || actual.NumField() != mirrored.NumField() || actual.Size() != mirrored.Size() {
		return fmt.Errorf("layout of %s changed (%d fields, %d bytes; expected %d, %d)", actual,
			actual.NumField(), actual.Size(), mirrored.NumField(), mirrored.Size())
	}
	for i := range actual.NumField() {
		a, m := actual.Field(i), mirrored.Field(i)
		if a.Name != m.Name || a.Offset != m.Offset || a.Type.String() != m.Type.String() || a.Type.Size() != m.Type.Size() {
			return fmt.Errorf("layout of %s changed at field %s %s (expected %s %s)", actual, a.Name, a.Type, m.Name, m.Type)
		}
	}
	return nil
}

// layoutCache remembers, per parameter type met in node.data, whether it matches
// its mirror.
var layoutCache sync.Map // reflect.Type -> error

func checkCached(actual, mirrored reflect.Type) error {
	if v, ok := layoutCache.Load(actual); ok {
		if v == nil {
			return nil
		}
		return v.(error)
	}
	err := checkLayout(actual, mirrored)
	if err != nil {
		layoutCache.Store(actual, err)
	} else {
		layoutCache.Store(actual, nil)
	}
	return err
}

// UseKernels switches every pure-Go backend in the process between Kata's
// executors (true) and GoMLX's own (false), like KATA_KERNELS=stock but at run
// time (benchmarks compare both in one run). It returns the previous setting;
// without installed kernels it does nothing and returns false.
func UseKernels(on bool) (previous bool) {
	installKernels()
	if installError != nil {
		return false
	}
	return kernelsOn.Swap(on)
}

// KernelsStatus describes the DotGeneral/ConvGeneral executors the pure-Go backend
// uses: Kata's GEMM kernels (and which micro-kernel), or GoMLX's and why.
func KernelsStatus() string {
	installKernels()
	switch {
	case installError != nil:
		return "stock GoMLX kernels (" + installError.Error() + ")"
	case !kernelsOn.Load():
		return "stock GoMLX kernels (switched off with UseKernels)"
	}
	status := "portable Go GEMM kernels"
	switch gemm.Kernel() {
	case "avx512":
		status = "AVX-512 kernels"
	case "avx2":
		status = "AVX2+FMA kernels"
	}
	if len(selfCheckFailed) > 0 {
		ops := make([]string, 0, len(selfCheckFailed))
		for op := range selfCheckFailed {
			ops = append(ops, op.String())
		}
		slices.Sort(ops)
		status += "; GoMLX's for " + strings.Join(ops, ", ") + " (failed the self-check)"
	}
	return status
}

func goBackendName() string { return "go (pure Go, " + KernelsStatus() + ")" }

// float32Flat returns a buffer's shape and float32 data, ok=false for other dtypes.
func float32Flat(backend *simplego.Backend, buf *simplego.Buffer) (shapes.Shape, []float32, bool) {
	shape, err := backend.BufferShape(buf)
	if err != nil {
		return shape, nil, false
	}
	flat, err := backend.BufferData(buf)
	if err != nil {
		return shape, nil, false
	}
	f, ok := flat.([]float32)
	return shape, f, ok
}

// newOutput allocates the float32 output buffer of a node.
func newOutput(backend *simplego.Backend, shape shapes.Shape) (*simplego.Buffer, []float32, error) {
	out := backend.NewBuffer(shape)
	if out == nil {
		return nil, nil, fmt.Errorf("cannot allocate output %s (backend finalized?)", shape)
	}
	flat, err := backend.BufferData(out)
	if err != nil {
		return nil, nil, err
	}
	f, ok := flat.([]float32)
	if !ok || len(f) != shape.Size() {
		return nil, nil, fmt.Errorf("output buffer for %s is %T", shape, flat)
	}
	return out, f, nil
}

// rowMajorStrides returns element strides of a row-major array.
func rowMajorStrides(dims []int) []int {
	s := make([]int, len(dims))
	acc := 1
	for i := len(dims) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= dims[i]
	}
	return s
}

// mergeAxes returns the single stride that walks the axes (in the given order)
// as one flattened index, or ok=false if they are not laid out contiguously in
// that order. Axes of dimension 1 are ignored; an empty/size-1 group has stride 1.
func mergeAxes(dims, strides, axes []int) (stride int, ok bool) {
	stride = 1
	prev := -1
	for _, a := range axes {
		if dims[a] == 1 {
			continue
		}
		if prev >= 0 && strides[prev] != strides[a]*dims[a] {
			return 0, false
		}
		prev = a
	}
	if prev >= 0 {
		stride = strides[prev]
	}
	return stride, true
}
