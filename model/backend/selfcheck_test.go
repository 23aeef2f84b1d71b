package backend

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"kata/model/backend/gemm"
)

// installedExecutors returns Kata's executor for every op installKernels
// replaced, read from simplego's table.
func installedExecutors(t *testing.T) map[backends.OpType]nodeExecutor {
	t.Helper()
	newGoBackend(t)
	if installError != nil || len(selfCheckFailed) > 0 {
		t.Fatalf("kernels not installed: %v, self-check: %v", installError, selfCheckFailed)
	}
	kata := map[backends.OpType]nodeExecutor{}
	for op := range stockExecutors {
		kata[op] = nodeExecutors[op]
	}
	return kata
}

// restoreTable puts kata's executors back into simplego's table after a test.
func restoreTable(t *testing.T, kata map[backends.OpType]nodeExecutor) {
	t.Cleanup(func() {
		for op, exec := range kata {
			nodeExecutors[op] = exec
		}
	})
}

func funcPointer(f nodeExecutor) uintptr { return reflect.ValueOf(f).Pointer() }

func TestSelfCheckCasesRunKataKernels(t *testing.T) {
	kata := installedExecutors(t)
	restoreTable(t, kata)
	backend := newGoBackend(t)
	covered := map[backends.OpType]bool{}
	for _, kernel := range gemm.Available() {
		prev, _ := gemm.Use(kernel)
		for op, stock := range stockExecutors {
			nodeExecutors[op] = stock
		}
		for _, c := range selfCheckCases {
			if kernel == "go" && c.op == backends.OpTypeDotGeneral {
				continue // DotGeneral keeps GoMLX's executor with the portable GEMM
			}
			fast, err := runSelfCheck(backend, c, kata[c.op])
			if err != nil {
				t.Errorf("%s %s/%s: %v", kernel, c.op, c.name, err)
			}
			if !fast {
				t.Errorf("%s %s/%s: Kata's executor handed every op to GoMLX: the case checks nothing", kernel, c.op, c.name)
			}
			covered[c.op] = true
		}
		gemm.Use(prev)
	}
	for op := range kata {
		if !covered[op] {
			t.Errorf("no self-check case for %s", op)
		}
	}
}

func TestSelfCheckPutsBackStock(t *testing.T) {
	kata := installedExecutors(t)
	restoreTable(t, kata)
	broken := map[backends.OpType]nodeExecutor{}
	for op, exec := range kata {
		broken[op] = exec
	}
	// One wrong element, a panic and an error: each must leave GoMLX's executor.
	broken[backends.OpTypeExp] = func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		out, err := kata[backends.OpTypeExp](b, node, inputs, owned)
		if err == nil {
			flat, _ := b.BufferData(out)
			flat.([]float32)[1000] *= 1.001
		}
		return out, err
	}
	broken[backends.OpTypeDotGeneral] = func(*simplego.Backend, *simplego.Node, []*simplego.Buffer, []bool) (*simplego.Buffer, error) {
		panic("index out of range")
	}
	broken[backends.OpTypeSlice] = func(*simplego.Backend, *simplego.Node, []*simplego.Buffer, []bool) (*simplego.Buffer, error) {
		return nil, errors.New("bad slice")
	}

	failed := selfCheck(newGoBackend(t), broken)

	for _, tc := range []struct {
		op   backends.OpType
		want string
	}{
		{backends.OpTypeExp, "output 0"},
		{backends.OpTypeDotGeneral, "panic: index out of range"},
		{backends.OpTypeSlice, "bad slice"},
	} {
		err := failed[tc.op]
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("self-check error for %s = %v, want it to mention %q", tc.op, err, tc.want)
		}
		if funcPointer(nodeExecutors[tc.op]) != funcPointer(stockExecutors[tc.op]) {
			t.Errorf("%s: GoMLX's executor not put back", tc.op)
		}
	}
	if len(failed) != 3 {
		t.Errorf("self-check failed %d ops, want 3: %v", len(failed), failed)
	}
	for op, exec := range broken {
		if failed[op] == nil && funcPointer(nodeExecutors[op]) != funcPointer(exec) {
			t.Errorf("%s passed the self-check but Kata's executor is not installed", op)
		}
	}

	prev := selfCheckFailed
	selfCheckFailed = failed
	defer func() { selfCheckFailed = prev }()
	if status := KernelsStatus(); !strings.Contains(status, "GoMLX's for DotGeneral, Exp, Slice (failed the self-check)") {
		t.Errorf("KernelsStatus() = %q", status)
	}
}
