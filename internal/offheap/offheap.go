package offheap

import (
	"sync"
	"unsafe"
)

// classSize is the granularity of buffer sizes: a request is rounded up
// to a whole number of MiB, so that the many segment sizes that differ by
// a few bytes of padding share buffers, and so that a buffer starts and
// ends on huge-page boundaries where the kernel uses them.
const classSize = 1 << 20

// mapping is one buffer mapped by Get.
type mapping struct {
	size int
	free bool
}

var pool = struct {
	mu sync.Mutex
	// mapped records every mapping Get made, by its first byte's
	// address; free holds the returned ones by size.
	mapped map[uintptr]*mapping
	free   map[int][][]byte
}{mapped: map[uintptr]*mapping{}, free: map[int][][]byte{}}

// Get returns a buffer of n bytes. Its contents are unspecified: zeros
// when newly mapped, possibly an earlier user's bytes otherwise (systems
// differ in what released pages read as). Give it back with Put when done;
// a buffer that is not given back keeps its memory until the process ends.
func Get(n int) []byte {
	if n <= 0 {
		return nil
	}
	size := (n + classSize - 1) / classSize * classSize
	pool.mu.Lock()
	if list := pool.free[size]; len(list) > 0 {
		b := list[len(list)-1]
		pool.free[size] = list[:len(list)-1]
		pool.mapped[base(b)].free = false
		pool.mu.Unlock()
		return b[:n]
	}
	pool.mu.Unlock()
	b, err := mapBytes(size)
	if err != nil {
		// Out of address space or mappings: the heap may still have room,
		// and a heap buffer is as good, only paced by the collector.
		return make([]byte, n)
	}
	pool.mu.Lock()
	pool.mapped[base(b)] = &mapping{size: size}
	pool.mu.Unlock()
	return b[:n]
}

// Put returns b, which must be a buffer Get returned (resliced from its
// start or not), and nothing may use it afterwards. Its pages go back to
// the system at once. Heap buffers (see Get) are left to the collector.
// Putting a buffer twice is a programmer error and panics.
func Put(b []byte) {
	if cap(b) == 0 {
		return
	}
	pool.mu.Lock()
	mp := pool.mapped[base(b)]
	if mp == nil {
		pool.mu.Unlock()
		return
	}
	if mp.free {
		pool.mu.Unlock()
		panic("offheap: buffer put twice")
	}
	mp.free = true
	pool.mu.Unlock()
	full := unsafe.Slice(unsafe.SliceData(b), mp.size)
	// A failed release leaves the pages resident, which costs memory but
	// not correctness; the buffer is reused either way.
	_ = releasePages(full)
	pool.mu.Lock()
	pool.free[mp.size] = append(pool.free[mp.size], full)
	pool.mu.Unlock()
}

func base(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
