package sdtrain

import "kata/model/parallel"

// hostBlock is how many parameters one task of the host update covers:
// 32 Ki float32s, so a block's weights, gradient, moments and EMA (640 KiB)
// stay in a core's L2 cache through the fused clip, AdamW and EMA pass.
const hostBlock = 1 << 15

// forBlocks calls fn(lo, hi) for consecutive blocks [lo, hi) of size block
// covering 0..n-1: in order on the calling goroutine when serial, otherwise
// on GOMAXPROCS goroutines, each taking the next block. fn must touch only
// its block, so that the result does not depend on the schedule.
func forBlocks(n, block int, serial bool, fn func(lo, hi int)) {
	if !serial {
		parallel.Blocks(n, block, fn)
		return
	}
	for lo := 0; lo < n; lo += block {
		fn(lo, min(lo+block, n))
	}
}
