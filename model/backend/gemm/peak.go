package gemm

import (
	"runtime"
	"sync"
	"time"
)

// PeakGFLOPS measures the float32 FMA throughput of the kernel's instruction set
// on all cores (GOMAXPROCS goroutines) for about d, in GFLOP/s: the ceiling a
// GEMM with that kernel can reach on this machine under its current load and
// clock. It returns 0 for the portable Go kernel.
func PeakGFLOPS(kernel string, d time.Duration) float64 {
	run, flopsPerIter := peakLoop(kernel)
	if run == nil {
		return 0
	}
	workers := runtime.GOMAXPROCS(0)
	const iters = 1 << 16
	var wg sync.WaitGroup
	counts := make([]int, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			// At least one loop per worker: on a loaded machine a worker may
			// start only after d has passed, and would count nothing.
			for {
				run(iters)
				counts[w]++
				if time.Since(start) >= d {
					break
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	total := 0
	for _, c := range counts {
		total += c
	}
	return float64(total) * iters * flopsPerIter / elapsed / 1e9
}
