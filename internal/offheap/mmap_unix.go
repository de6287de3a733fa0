//go:build unix

package offheap

import "golang.org/x/sys/unix"

// mapBytes maps size bytes of private anonymous memory, zero-filled and
// not yet resident.
func mapBytes(size int) ([]byte, error) {
	return unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
}

// releasePages gives b's pages back to the system; the mapping stays.
func releasePages(b []byte) error {
	return unix.Madvise(b, unix.MADV_DONTNEED)
}
