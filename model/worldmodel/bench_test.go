package worldmodel

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"kata/model/backend"
	"kata/model/sd"
	"kata/model/sdtrain"
)

// processCPU is the process's user+system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func randn(rng *rand.Rand, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// BenchmarkStep times one training step's forward and backward pass (loss
// and the gradient of every trained weight, as model/sdtrain computes it) of
// the VAE stage and of the UNet stage (text encoder + UNet, frozen VAE
// encoder), batch 8, for candidate widths, and the chosen widths' UNet stage
// at batch 32 (the recipe trains at 16):
//
//	CGO_ENABLED=0 go test ./model/worldmodel -run NONE -bench Step -benchtime 3x
//
// cpu-s/op is the process's CPU time (user+sys) per step, comparable on
// shared cores where ns/op is not; cpu/wall is the cores a step kept busy.
// KATA_SMALL_CONV=off runs the backend's earlier convolution paths, for A/B
// runs of one binary (docs/PERFORMANCE.md, "Small shapes").
func BenchmarkStep(b *testing.B) {
	cands := []struct {
		name   string
		w      Widths
		batch  int
		stages []sdtrain.Stage
	}{
		{"default", DefaultWidths(), 8, []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet}},
		{"vae-f4-16-32-64", Widths{64, 4, []int{32, 64, 128, 128}, []int{16, 32, 64}}, 8, []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet}},
		{"vae-f8-32-64-64-64", Widths{64, 4, []int{32, 64, 128, 128}, []int{32, 64, 64, 64}}, 8, []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet}},
		{"unet-64-128-192-192", Widths{64, 4, []int{64, 128, 192, 192}, []int{32, 64, 64}}, 8, []sdtrain.Stage{sdtrain.StageVAE, sdtrain.StageUNet}},
		{"default-batch32", DefaultWidths(), 32, []sdtrain.Stage{sdtrain.StageUNet}},
	}
	be, err := backend.New("go")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range cands {
		arch := NewArchitecture(c.w)
		batch := c.batch
		for _, stage := range c.stages {
			b.Run(fmt.Sprintf("%s/%s", c.name, stage), func(b *testing.B) {
				m, err := sd.NewRandom(arch.Text, arch.UNet, arch.VAE, 1)
				if err != nil {
					b.Fatal(err)
				}
				defer m.Finalize()
				prefix := map[sdtrain.Stage][]string{sdtrain.StageVAE: {"vae/"}, sdtrain.StageUNet: {"unet/", "text_encoder/"}}[stage]
				var vars []*context.Variable
				params := 0
				for v := range m.Ctx.IterVariables() {
					for _, p := range prefix {
						if strings.HasPrefix(sd.VariableKey(v), p) {
							vars = append(vars, v)
							params += v.Shape().Size()
						}
					}
				}
				exec, err := context.NewExec(be, m.Ctx.Reuse(), func(ctx *context.Context, in []*Node) []*Node {
					var loss *Node
					if stage == sdtrain.StageVAE {
						loss, _, _ = sdtrain.VAELoss(ctx, in[0], in[1], 1e-6)
					} else {
						loss = sdtrain.UNetLoss(ctx, in[0], in[1], in[2], in[3], in[4], in[5], in[6], nil, 0.2)
					}
					nodes := make([]*Node, len(vars))
					for i, v := range vars {
						nodes[i] = v.ValueGraph(loss.Graph())
					}
					return append([]*Node{loss}, Gradient(loss, nodes...)...)
				})
				if err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				f, s := arch.Factor(), ImageSize
				ls := s / f
				args := []any{randn(rng, batch, 3, s, s), randn(rng, batch, 4, ls, ls)}
				if stage == sdtrain.StageUNet {
					ids := make([]int32, batch*77)
					ts := make([]int32, batch)
					half := make([]float32, batch)
					for i := range ts {
						ts[i], half[i] = int32(rng.IntN(1000)), 0.7
					}
					args = append(args, randn(rng, batch, 4, ls, ls), tensors.FromFlatDataAndDimensions(ts, batch),
						tensors.FromFlatDataAndDimensions(half, batch), tensors.FromFlatDataAndDimensions(half, batch),
						tensors.FromFlatDataAndDimensions(ids, batch, 77))
				}
				run := func() {
					outs, err := exec.Exec(args...)
					if err != nil {
						b.Fatal(err)
					}
					for _, o := range outs {
						o.FinalizeAll()
					}
				}
				run() // compile
				b.ResetTimer()
				cpu0 := processCPU()
				for range b.N {
					run()
				}
				cpu := (processCPU() - cpu0).Seconds()
				b.ReportMetric(float64(params)/1e6, "Mparams")
				// CPU time (user+sys, whole process) per step: comparable on shared
				// cores, unlike ns/op; cpu/wall is how many cores the step kept busy.
				b.ReportMetric(cpu/float64(b.N), "cpu-s/op")
				b.ReportMetric(cpu/b.Elapsed().Seconds(), "cpu/wall")
				b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
			})
		}
	}
}
