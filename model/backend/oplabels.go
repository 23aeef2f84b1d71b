package backend

import (
	"context"
	"os"
	"runtime/pprof"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// EnvProfileOps is the environment variable that, set to 1, labels the CPU
// profile samples of every op the pure-Go backend runs with pprof labels
// "op" (the op type, e.g. ConvGeneral) and "shape" (its output shape), so that
// a profile ranks ops by type and shape, including the work they spread over
// other goroutines (labels are inherited):
//
//	KATA_PROFILE_OPS=1 go test ... -cpuprofile cpu.out
//	go tool pprof -tags cpu.out            # totals per op and per shape
//	go tool pprof -tagfocus op=ConvGeneral -top cpu.out
//
// Off by default: labelling costs an allocation per op.
const EnvProfileOps = "KATA_PROFILE_OPS"

// labelOps wraps every executor in simplego's tables with pprof labels; called
// once, with the cancellation checks, when EnvProfileOps is 1.
func labelOps() {
	if os.Getenv(EnvProfileOps) != "1" {
		return
	}
	for op, exec := range nodeExecutors {
		if exec != nil {
			nodeExecutors[op] = labelled(backends.OpType(op), exec)
		}
	}
	for op, exec := range multiOutputsNodeExecutors {
		if exec != nil {
			multi := exec
			name := backends.OpType(op).String()
			multiOutputsNodeExecutors[op] = func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (outs []*simplego.Buffer, err error) {
				pprof.Do(context.Background(), pprof.Labels("op", name, "shape", "multi"), func(context.Context) {
					outs, err = multi(b, node, inputs, owned)
				})
				return outs, err
			}
		}
	}
}

func labelled(op backends.OpType, exec nodeExecutor) nodeExecutor {
	name := op.String()
	return func(b *simplego.Backend, node *simplego.Node, inputs []*simplego.Buffer, owned []bool) (out *simplego.Buffer, err error) {
		pprof.Do(context.Background(), pprof.Labels("op", name, "shape", mirror(node).shape.String()), func(context.Context) {
			out, err = exec(b, node, inputs, owned)
		})
		return out, err
	}
}
