package vmath

// Op is an elementwise binary operation.
type Op int

// The binary operations Binary supports.
const (
	Add Op = iota
	Sub
	Mul
	Div
)

// Binary sets dst[i] = a[i] op b[i] for i < len(dst); an a or b of length 1 is
// broadcast (a scalar). Results are those of the Go float32 operators.
func Binary(op Op, dst, a, b []float32) { binary(op, dst, a, b, false) }

// StreamBytes is the output size from which Kata's kernels write with
// non-temporal stores: well above the last-level cache a core can count on,
// so the output would leave the cache before anything reads it.
const StreamBytes = 32 << 20

// BinaryStream is Binary with non-temporal stores where the CPU has them and
// dst is 32-byte aligned: dst's cache lines are written without being read
// first. Use it for outputs much larger than the caches that no operand
// overlaps; for anything that fits in cache it is slower.
func BinaryStream(op Op, dst, a, b []float32) { binary(op, dst, a, b, true) }

func binary(op Op, dst, a, b []float32, stream bool) {
	n := len(dst)
	sa, sb := len(a) == 1, len(b) == 1
	if !sa {
		a = a[:n]
	}
	if !sb {
		b = b[:n]
	}
	done := binarySIMD(op, dst, a, b, sa, sb, stream)
	switch {
	case sa && sb:
		for i := done; i < n; i++ {
			dst[i] = apply(op, a[0], b[0])
		}
	case sa:
		for i := done; i < n; i++ {
			dst[i] = apply(op, a[0], b[i])
		}
	case sb:
		for i := done; i < n; i++ {
			dst[i] = apply(op, a[i], b[0])
		}
	default:
		for i := done; i < n; i++ {
			dst[i] = apply(op, a[i], b[i])
		}
	}
}

func apply(op Op, x, y float32) float32 {
	switch op {
	case Add:
		return x + y
	case Sub:
		return x - y
	case Mul:
		return x * y
	default:
		return x / y
	}
}
