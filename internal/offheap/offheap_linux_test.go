package offheap

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of b that are in memory.
func resident(t *testing.T, b []byte) (in, all int) {
	t.Helper()
	page := unix.Getpagesize()
	vec := make([]byte, (len(b)+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			in++
		}
	}
	return in, len(vec)
}

func TestPutGivesThePagesBack(t *testing.T) {
	b := Get(8 * classSize)
	if in, _ := resident(t, b); in != 0 {
		t.Errorf("a new buffer has %d pages resident before any use, want 0", in)
	}
	for i := range b {
		b[i] = 0xa5
	}
	if in, all := resident(t, b); in != all {
		t.Fatalf("%d of %d pages resident after writing every byte", in, all)
	}
	Put(b)
	if in, all := resident(t, b); in != 0 {
		t.Errorf("%d of %d pages still resident after Put, want 0", in, all)
	}
	c := Get(8 * classSize)
	defer Put(c)
	if base(c) != base(b) {
		t.Fatalf("Get after Put mapped a new buffer")
	}
	for i, v := range c {
		if v != 0 {
			t.Fatalf("byte %d of a released and reused buffer reads %#x; on Linux released pages read as zeros", i, v)
		}
	}
}
