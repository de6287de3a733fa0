package offheap

import (
	"testing"
	"time"
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

// A buffer returned and taken again at once keeps its pages: the next
// user pays no faults.
func TestQuickReuseKeepsPagesResident(t *testing.T) {
	b := Get(4 * classSize)
	for i := range b {
		b[i] = 0x5a
	}
	Put(b)
	c := Get(4 * classSize)
	defer Put(c)
	if base(c) != base(b) {
		t.Fatalf("Get after Put mapped a new buffer")
	}
	if in, all := resident(t, c); in != all {
		t.Errorf("%d of %d pages resident in a buffer reused right after Put, want all", in, all)
	}
}

// A buffer left unused gives its pages back within about ReleaseAfter.
func TestIdleBufferGivesThePagesBack(t *testing.T) {
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
	deadline := time.Now().Add(ReleaseAfter + 10*time.Second)
	for {
		in, all := resident(t, b)
		if in == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d pages still resident %v after Put, want 0 after about %v", in, all, ReleaseAfter+10*time.Second, ReleaseAfter)
		}
		time.Sleep(50 * time.Millisecond) // polling the condition, bounded by the deadline
	}
	c := Get(8 * classSize)
	defer Put(c)
	if base(c) != base(b) {
		t.Fatalf("Get after the release mapped a new buffer instead of reusing the mapping")
	}
	for i, v := range c {
		if v != 0 {
			t.Fatalf("byte %d of a released and reused buffer reads %#x; on Linux released pages read as zeros", i, v)
		}
	}
}
