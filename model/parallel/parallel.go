// Package parallel runs the iterations of a loop on all cores.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// For calls fn(i) for every i in [0, n) on up to GOMAXPROCS goroutines, each
// taking the next index, and returns the first error of the worker that met
// one (a worker stops at its first error; the others finish their current
// index and stop too). With one core or n <= 1 it runs in order on the
// calling goroutine. fn must not depend on the order of the indices.
func For(n int, fn func(i int) error) error {
	return ForWidth(n, runtime.GOMAXPROCS(0), fn)
}

// ForWidth is For on up to width goroutines whatever the number of cores:
// for work that is not one core's worth per index, such as graph executions
// that each run one node at a time and are meant to run at once. Width 1 (or
// less) runs the indices in order on the calling goroutine.
func ForWidth(n, width int, fn func(i int) error) error {
	workers := min(n, width)
	if workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next   atomic.Int64
		failed atomic.Bool
		wg     sync.WaitGroup
	)
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if errs[w] = fn(i); errs[w] != nil {
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Blocks calls fn(lo, hi) for the consecutive blocks [lo, hi) of size block
// (the last one shorter) that cover [0, n), through For.
func Blocks(n, block int, fn func(lo, hi int)) {
	_ = For((n+block-1)/block, func(t int) error {
		fn(t*block, min((t+1)*block, n))
		return nil
	})
}
