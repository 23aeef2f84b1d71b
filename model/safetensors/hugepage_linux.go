package safetensors

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of an x86-64 / arm64 transparent huge page.
const hugePage = 2 << 20

// adviseHugePages asks the kernel to back the 2 MiB-aligned pages inside b
// with transparent huge pages (MADV_HUGEPAGE; the default "madvise" THP
// mode gives them only to memory so advised). The partial pages at the
// ends are left alone (they may hold other data). It is a hint: failures
// are ignored.
func adviseHugePages(b []byte) {
	if len(b) < hugePage {
		return
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := (start + uintptr(len(b))) &^ (hugePage - 1)
	if hi <= lo {
		return
	}
	off := lo - start
	_ = unix.Madvise(b[off:off+hi-lo], unix.MADV_HUGEPAGE)
}
