// Package offheap hands out large byte buffers that live outside the Go
// heap, and gives their memory back to the system when they are returned.
//
// A store keeps a few segment buffers of tens of MiB each for its whole
// run. On the Go heap such buffers set the garbage collector's pace: with
// the default GOGC of 100 the heap may grow to twice what is live before
// a collection, so 240 MiB of buffers let the process reach nearly twice
// that in resident memory, although the buffers themselves are reused and
// never become garbage. Outside the heap they cost exactly their size, and
// the collector paces itself on the small objects it actually manages.
// Pebble keeps its block cache and memtables outside the heap for the same
// reason.
//
// A buffer's mapping is never unmapped: Put releases its pages
// (madvise(MADV_DONTNEED)) and keeps the mapping for the next Get of the
// same size class. A goroutine that still reads a returned buffer by
// mistake therefore reads zeros or another user's bytes, never unmapped
// memory. The address space kept grows to the most buffers of each class
// in use at once; resident memory is only what is in use.
//
// Where anonymous mappings are not available (not unix, or a failed mmap),
// Get returns an ordinary heap slice and Put ignores it.
package offheap
