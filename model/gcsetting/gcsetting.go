// Package gcsetting is the one owner of the Go runtime's garbage-collector
// settings while Kata's long runs hold them: the GC percent (GOGC) that ADI
// training lowers and the soft memory limit (GOMEMLIMIT) that generation
// sets. On the pure-Go backend every tensor lives on the Go heap and
// simplego's buffer pools keep freed buffers until a collection, so these
// settings decide the peak memory. Overlapping callers (the window trains
// and generates in one process) each get a restore function; the setting
// from before the first caller comes back when the last one restores.
package gcsetting

import (
	"runtime/debug"
	"sync"
)

// percent is the GC percent as LowerPercent's callers hold it.
var percent struct {
	sync.Mutex
	users int // runs holding a lowered setting
	saved int // the setting before the first of them
}

// LowerPercent sets the Go GC target to p when that is lower than the
// current one (p <= 0: leaves it) and returns the function that undoes it;
// the setting before the first of several overlapping callers comes back
// when the last one undoes.
func LowerPercent(p int) (restore func()) {
	if p <= 0 {
		return func() {}
	}
	percent.Lock()
	defer percent.Unlock()
	cur := debug.SetGCPercent(p)
	if cur >= 0 && cur < p || cur < 0 {
		debug.SetGCPercent(cur) // never raise, never turn a disabled GC on
	}
	if percent.users == 0 {
		percent.saved = cur
	}
	percent.users++
	return sync.OnceFunc(func() {
		percent.Lock()
		defer percent.Unlock()
		if percent.users--; percent.users == 0 {
			debug.SetGCPercent(percent.saved)
		}
	})
}

// Percent returns the Go GC percent now (negative: collection off), read
// without changing it for longer than the read.
func Percent() int {
	percent.Lock()
	defer percent.Unlock()
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// limit is the soft memory limit as HoldLimit's callers hold it, so that
// overlapping ones (the window runs generations in-process) restore it
// once, to what it was before the first.
var limit struct {
	sync.Mutex
	held  int64 // the sum of the running holders' limits
	users int
	saved int64 // the limit before the first holder
}

// HoldLimit lowers the Go runtime's soft memory limit to n bytes (n <=
// 0: leaves it) and returns the function that undoes it. Overlapping holders
// get the sum of their limits (each counts the heap beside its own work, so
// the sum errs high); the limit is never raised above the one set before the
// first holder (GOMEMLIMIT or debug.SetMemoryLimit), and that one comes back
// when the last holder undoes.
func HoldLimit(n int64) (restore func()) {
	if n <= 0 {
		return func() {}
	}
	limit.Lock()
	defer limit.Unlock()
	if limit.users == 0 {
		limit.saved = debug.SetMemoryLimit(-1) // -1 reads it
		limit.held = 0
	}
	limit.users++
	limit.held += n
	debug.SetMemoryLimit(min(limit.held, limit.saved))
	return sync.OnceFunc(func() {
		limit.Lock()
		defer limit.Unlock()
		limit.users--
		limit.held -= n
		if limit.users == 0 {
			debug.SetMemoryLimit(limit.saved)
			return
		}
		debug.SetMemoryLimit(min(limit.held, limit.saved))
	})
}
