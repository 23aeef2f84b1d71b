package backend

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func TestResolve(t *testing.T) {
	// An empty plugin folder: no PJRT plugin can be found, whatever the machine has.
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	t.Setenv(EnvBackend, "")
	for _, tc := range []struct {
		setting, env string
		wantPrefix   string
		wantErr      bool
	}{
		{"go", "", "go (pure Go", false},
		{"", "", "go (pure Go", false}, // auto without plugin
		{"auto", "", "go (pure Go", false},
		{"", "go", "go (pure Go", false},
		{" GO ", "", "go (pure Go", false},
		{"xla:cuda", "", "none", true},
		{"xla", "", "none", true},
		{"", "xla:cpu", "none", true},
		{"tpu", "", "none", true},
	} {
		t.Run(tc.setting+"/"+tc.env, func(t *testing.T) {
			t.Setenv(EnvBackend, tc.env)
			sel := Resolve(tc.setting)
			if !strings.HasPrefix(sel.Name, tc.wantPrefix) || sel.Reason == "" {
				t.Errorf("Resolve(%q) = %+v, want name %q... with a reason", tc.setting, sel, tc.wantPrefix)
			}
			b, err := New(tc.setting)
			if tc.wantErr {
				if err == nil {
					t.Errorf("New(%q) succeeded, want error", tc.setting)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%q): %v", tc.setting, err)
			}
			if b.String() != "go" {
				t.Errorf("New(%q) backend %q, want pure Go", tc.setting, b.String())
			}
		})
	}
}

func execOnce(t *testing.T, backend backends.Backend, fn func(*Graph) *Node) *tensors.Tensor {
	t.Helper()
	out, err := ExecOnce(backend, fn)
	if err != nil {
		t.Fatalf("exec: %v", err)
	}
	return out
}

func TestPad(t *testing.T) {
	backend := newGoBackend(t)
	got := execOnce(t, backend, func(g *Graph) *Node {
		x := Const(g, [][]float32{{1, 2, 3}, {4, 5, 6}})
		return Pad(x, Const(g, float32(9)),
			backends.PadAxis{Start: 1},
			backends.PadAxis{Start: -1, End: 2, Interior: 1})
	})
	want := [][]float32{{9, 9, 9, 9, 9, 9}, {9, 2, 9, 3, 9, 9}, {9, 5, 9, 6, 9, 9}}
	if !reflect.DeepEqual(got.Value(), want) {
		t.Errorf("Pad = %v, want %v", got.Value(), want)
	}

	rng := rand.New(rand.NewPCG(1, 1))
	checkGradients(t, backend, func(xs []*Node) *Node {
		return weightedSum(Pad(xs[0], xs[1],
			backends.PadAxis{Start: 2, End: -1, Interior: 2}, backends.PadAxis{Start: -2, End: 1}))
	}, []*tensors.Tensor{randUniform[float64](rng, 4, 5), tensors.FromValue(0.25)}, 20)
}

func TestReverse(t *testing.T) {
	backend := newGoBackend(t)
	for _, n := range []int{3, 70} {
		got := execOnce(t, backend, func(g *Graph) *Node {
			return Reverse(Iota(g, shapes.Make(dtypes.Int32, 2, n), 1), 0, 1)
		})
		flat := tensors.MustCopyFlatData[int32](got)
		for r := range 2 {
			for c := range n {
				if w := int32(n - 1 - c); flat[r*n+c] != w {
					t.Fatalf("n=%d: Reverse[%d][%d] = %d, want %d", n, r, c, flat[r*n+c], w)
				}
			}
		}
	}
	// Several axes, in any order, leading or not.
	for _, axes := range [][]int{{1, 3}, {3, 1}, {0, 1, 2, 3}, {2}, {0, 2}} {
		got := execOnce(t, backend, func(g *Graph) *Node {
			x := Reshape(Iota(g, shapes.Make(dtypes.Int32, 2*3*4*5), 0), 2, 3, 4, 5)
			return Reshape(Reverse(x, axes...), -1)
		})
		flat := tensors.MustCopyFlatData[int32](got)
		for i := range flat {
			// Decompose i, reverse the chosen coordinates, recompose.
			c := []int{i / 60, i / 20 % 3, i / 5 % 4, i % 5}
			d := []int{2, 3, 4, 5}
			for _, a := range axes {
				c[a] = d[a] - 1 - c[a]
			}
			if src := int32(c[0]*60 + c[1]*20 + c[2]*5 + c[3]); flat[i] != src {
				t.Fatalf("Reverse axes %v: element %d = %d, want %d", axes, i, flat[i], src)
			}
		}
	}
	rng := rand.New(rand.NewPCG(2, 2))
	checkGradients(t, backend, func(xs []*Node) *Node {
		return weightedSum(Reverse(xs[0], 0, 2))
	}, []*tensors.Tensor{randUniform[float64](rng, 3, 2, 19)}, 20)
}

func TestKernelsStockEnv(t *testing.T) {
	if os.Getenv("KATA_TEST_CHILD") == "1" {
		// Child process: KATA_KERNELS=stock is set before the backend is created.
		if got := Resolve("go").Name; !strings.Contains(got, "stock GoMLX kernels ("+EnvKernels+"=stock)") {
			t.Fatalf("with %s=stock: Resolve(go) = %q", EnvKernels, got)
		}
		// Nothing of Kata's runs, not even when asked for at run time.
		if UseKernels(true) {
			t.Fatal("UseKernels reports kernels that were on")
		}
		calls := fastCalls.Load()
		if _, err := ExecOnce(newGoBackend(t), func(g *Graph) *Node {
			x := IotaFull(g, shapes.Make(dtypes.Float32, 40, 40))
			return Exp(Dot(x, x))
		}); err != nil {
			t.Fatal(err)
		}
		if n := fastCalls.Load() - calls; n != 0 {
			t.Fatalf("%d ops ran on Kata's executors with %s=stock", n, EnvKernels)
		}
		// GoMLX's own executors crash on float16: the Builder refuses it
		// with an error instead (with Kata's executor it converts, see
		// TestConvertHalf).
		if SupportsHalf(newGoBackend(t)) {
			t.Error("SupportsHalf is true without Kata's executors")
		}
		_, err := ExecOnce(newGoBackend(t), func(g *Graph) *Node {
			return ConvertDType(Const(g, []float32{1, 2}), dtypes.Float16)
		})
		if err == nil || !strings.Contains(err.Error(), "float16") {
			t.Errorf("ConvertDType to float16: err=%v, want a float16 error", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKernelsStockEnv$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KATA_TEST_CHILD=1", EnvKernels+"=stock")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
