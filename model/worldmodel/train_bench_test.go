//go:build unix

package worldmodel

import (
	gocontext "context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"kata/model/backend"
	"kata/model/sdtrain"
)

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds(b *testing.B) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// runnableSeconds is the time the process's threads ran or waited on a run
// queue for a core, from Linux's /proc/self/task/*/schedstat (ok false
// elsewhere): on shared cores, where the CPU time measures the share the
// other processes left, it measures how much the process asked for.
func runnableSeconds() (float64, bool) {
	files, _ := filepath.Glob("/proc/self/task/*/schedstat")
	var ns float64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		var run, wait float64
		if _, err := fmt.Sscan(string(b), &run, &wait); err != nil {
			return 0, false
		}
		ns += run + wait
	}
	return ns / 1e9, len(files) > 0
}

// BenchmarkTrain times the unet stage of the trainer itself, sdtrain.Train
// on Kata World's architecture and world renders at the recipe's batch 16:
// rendering and tokenising, the graph's forward and backward pass, the host
// clipping, AdamW and EMA. One op is one optimiser step (the graph's
// compilation and the first step are not timed). It reports steps/s and the
// CPU utilisation (user + system CPU time of the process over wall time
// across the timed steps; 2.0 is two cores busy throughout), for the
// trainer's host work on one goroutine in the order of a step ("serial",
// Options.Serial: the trainer before issue 12) and spread over the cores
// with the next batch drawn during the current step ("overlapped"); both
// train bit for bit alike. "shards-2", "shards-4" and "shards-8" overlap too and split
// each batch into concurrent graph executions (sdtrain.Options.Shards; the
// recipe's choice is the fastest of these). On idle cores:
//
//	CGO_ENABLED=0 go test ./model/worldmodel -run NONE -bench Train -benchtime 20x
func BenchmarkTrain(b *testing.B) {
	be, err := backend.New("go")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	vae := Recipe(sdtrain.StageVAE).WithSteps(1)
	vae.Batch, vae.LatentSamples, vae.NoPreview, vae.CheckpointDir = 2, 4, true, dir
	if _, err := sdtrain.Train(gocontext.Background(), be, Architecture(), Source{}, vae, nil); err != nil {
		b.Fatal(err)
	}
	vaeCkpt, err := os.ReadFile(sdtrain.CheckpointPath(dir, sdtrain.StageVAE))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name   string
		serial bool
		shards int
	}{{"serial", true, 1}, {"overlapped", false, 1}, {"shards-2", false, 2}, {"shards-4", false, 4}, {"shards-8", false, 8}} {
		b.Run(mode.name, func(b *testing.B) {
			o := Recipe(sdtrain.StageUNet).WithSteps(b.N + 1)
			o.CheckpointDir, o.NoPreview, o.CheckpointEvery, o.Serial = b.TempDir(), true, 24*time.Hour, mode.serial
			o.Shards = mode.shards
			if err := os.WriteFile(sdtrain.CheckpointPath(o.CheckpointDir, sdtrain.StageVAE), vaeCkpt, 0o644); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			var wall time.Time
			var cpu, demand float64
			var haveDemand bool
			_, err := sdtrain.Train(gocontext.Background(), be, Architecture(), Source{}, o, func(e sdtrain.Event) {
				if e.Kind != sdtrain.EventStep {
					return
				}
				switch e.Step {
				case 1:
					wall, cpu = time.Now(), cpuSeconds(b)
					demand, haveDemand = runnableSeconds()
					b.StartTimer()
				case o.Steps:
					b.StopTimer()
					el := time.Since(wall).Seconds()
					b.ReportMetric(float64(b.N)/el, "steps/s")
					b.ReportMetric((cpuSeconds(b)-cpu)/el, "cpu-util")
					if d, ok := runnableSeconds(); ok && haveDemand {
						b.ReportMetric((d-demand)/el, "cpu-demand")
					}
				}
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
