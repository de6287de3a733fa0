package offheap

import (
	"sync"
	"time"
	"unsafe"
)

// classSize is the granularity of buffer sizes: a request is rounded up
// to a whole number of MiB, so that the many segment sizes that differ by
// a few bytes of padding share buffers, and so that a buffer starts and
// ends on huge-page boundaries where the kernel uses them.
const classSize = 1 << 20

// ReleaseAfter is how long a returned buffer stays resident for the next
// Get before its pages go back to the system. Touching fresh pages costs
// a fault and zeroing per page, about as much CPU as a pass of hashing
// over the same bytes: a retrieval or store that takes its buffers right
// after another returned them must not pay that, while a daemon that
// finished its work must not keep the memory.
const ReleaseAfter = time.Second

// mapping is one buffer mapped by Get.
type mapping struct {
	size int
	free bool
}

// freeBuf is a returned buffer waiting in the free list.
type freeBuf struct {
	b        []byte
	since    time.Time // when it was returned
	released bool      // its pages went back to the system
}

var pool = struct {
	mu sync.Mutex
	// mapped records every mapping Get made, by its first byte's
	// address; free holds the returned ones by size, resident ones last
	// (Get takes from the end).
	mapped map[uintptr]*mapping
	free   map[int][]freeBuf
	// sweep is set while a release of idle buffers is scheduled.
	sweep *time.Timer
}{mapped: map[uintptr]*mapping{}, free: map[int][]freeBuf{}}

// Get returns a buffer of n bytes. Its contents are unspecified: zeros
// when newly mapped, possibly an earlier user's bytes otherwise. Give it
// back with Put when done; a buffer that is not given back keeps its
// memory until the process ends.
func Get(n int) []byte {
	if n <= 0 {
		return nil
	}
	size := (n + classSize - 1) / classSize * classSize
	pool.mu.Lock()
	if list := pool.free[size]; len(list) > 0 {
		f := list[len(list)-1]
		pool.free[size] = list[:len(list)-1]
		pool.mapped[base(f.b)].free = false
		pool.mu.Unlock()
		return f.b[:n]
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
// start or not), and nothing may use it afterwards. Its pages stay
// resident for the next Get of its size for ReleaseAfter, and then go back
// to the system. Heap buffers (see Get) are left to the collector.
// Putting a buffer twice is a programmer error and panics.
func Put(b []byte) {
	if cap(b) == 0 {
		return
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	mp := pool.mapped[base(b)]
	if mp == nil {
		return
	}
	if mp.free {
		panic("offheap: buffer put twice")
	}
	mp.free = true
	full := unsafe.Slice(unsafe.SliceData(b), mp.size)
	pool.free[mp.size] = append(pool.free[mp.size], freeBuf{b: full, since: time.Now()})
	if pool.sweep == nil {
		pool.sweep = time.AfterFunc(ReleaseAfter, releaseIdle)
	}
}

// releaseIdle gives back the pages of every free buffer returned at least
// ReleaseAfter ago, and schedules itself again while resident free buffers
// remain.
func releaseIdle() {
	pool.mu.Lock()
	now := time.Now()
	// The buffers being released leave the free list meanwhile, so that
	// no Get hands one out while its pages are dropped.
	var stale []freeBuf
	for size, list := range pool.free {
		keep := list[:0]
		for _, f := range list {
			if !f.released && now.Sub(f.since) >= ReleaseAfter {
				stale = append(stale, f)
			} else {
				keep = append(keep, f)
			}
		}
		pool.free[size] = keep
	}
	pool.mu.Unlock()

	for i := range stale {
		// A failed release leaves the pages resident, which costs memory
		// but not correctness; the buffer is reused either way.
		_ = releasePages(stale[i].b)
		stale[i].released = true
	}

	pool.mu.Lock()
	defer pool.mu.Unlock()
	for _, f := range stale {
		size := len(f.b)
		// Released buffers go first: Get takes resident ones, from the
		// end, before them.
		pool.free[size] = append([]freeBuf{f}, pool.free[size]...)
	}
	pool.sweep = nil
	next := time.Duration(-1)
	for _, list := range pool.free {
		for _, f := range list {
			if d := ReleaseAfter - now.Sub(f.since); !f.released && (next < 0 || d < next) {
				next = d
			}
		}
	}
	if next >= 0 {
		pool.sweep = time.AfterFunc(max(next, 10*time.Millisecond), releaseIdle)
	}
}

func base(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
