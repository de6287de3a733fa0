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
// A returned buffer stays resident for a second (ReleaseAfter), so that
// the next store or retrieval reuses its pages without faulting them in
// and zeroing them again; then its pages go back to the system
// (madvise(MADV_DONTNEED)) and only the mapping is kept for a later Get
// of the same size class. A mapping is never unmapped: a goroutine that
// still reads a returned buffer by mistake reads zeros or another user's
// bytes, never unmapped memory. The address space kept grows to the most
// buffers of each class in use at once; resident memory is what is in
// use, plus what was returned in the last second.
//
// Where anonymous mappings are not available (not unix, or a failed mmap),
// Get returns an ordinary heap slice and Put ignores it.
package offheap
