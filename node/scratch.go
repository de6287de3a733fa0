package node

import "github.com/dsn-project/dsn/internal/offheap"

// scratch hands out the segment-sized buffers of one store, retrieval or
// repair, from outside the Go heap (internal/offheap), and gives them all
// back at the end. On the heap, a few hundred MiB of buffers that are
// reused, never garbage, would let the collector's pacing nearly double
// the process's memory.
//
// A scratch is used by one goroutine at a time; its release must come
// after every goroutine that reads or writes its buffers has ended.
type scratch struct{ taken [][]byte }

// fit returns b resliced to n bytes if it has the capacity, else a new
// buffer of n bytes (b stays taken and is given back with the rest). A
// new buffer's contents are unspecified.
func (s *scratch) fit(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	nb := offheap.Get(n)
	s.taken = append(s.taken, nb)
	return nb
}

// release gives back every buffer fit handed out; none may be used after.
func (s *scratch) release() {
	for _, b := range s.taken {
		offheap.Put(b)
	}
	s.taken = nil
}
