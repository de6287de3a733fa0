package offheap

import (
	"bytes"
	"runtime"
	"sync"
	"testing"
)

func TestGetSizes(t *testing.T) {
	for _, n := range []int{1, 4095, classSize, classSize + 1, 3*classSize + 7} {
		b := Get(n)
		if len(b) != n {
			t.Errorf("len(Get(%d)) = %d, want %d", n, len(b), n)
		}
		b[0], b[n-1] = 1, 2 // writable end to end
		Put(b)
	}
	if b := Get(0); b != nil {
		t.Errorf("Get(0) = %d bytes, want nil", len(b))
	}
}

func TestPutThenGetReusesTheBuffer(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no anonymous mappings on " + runtime.GOOS + ": Get returns heap buffers, which are not pooled")
	}
	a := Get(2*classSize + 100)
	Put(a)
	// Same class (3 MiB), different length.
	b := Get(2*classSize + 1)
	defer Put(b)
	if base(a) != base(b) {
		t.Errorf("Get after Put mapped a new buffer at %#x, want the returned one at %#x", base(b), base(a))
	}
}

func TestPutTwicePanics(t *testing.T) {
	b := Get(classSize)
	Put(b)
	defer func() {
		if recover() == nil {
			t.Error("second Put of one buffer did not panic")
		}
		Get(classSize) // take it out of the free list again for other tests
	}()
	Put(b)
}

func TestPutIgnoresHeapBuffers(t *testing.T) {
	b := make([]byte, classSize)
	Put(b) // must neither panic nor pool it
	c := Get(classSize)
	defer Put(c)
	if base(c) == base(b) {
		t.Error("Get returned a heap buffer that was Put")
	}
}

// Concurrent users never get the same buffer: each fills its own with a
// pattern and checks it after others had the chance to interfere.
func TestConcurrentUsersHoldDistinctBuffers(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				b := Get(classSize + g)
				fill := byte(g*20 + i + 1)
				for j := range b {
					b[j] = fill
				}
				runtime.Gosched()
				if !bytes.Equal(b, bytes.Repeat([]byte{fill}, len(b))) {
					errs <- "a buffer was changed while its holder had it"
				}
				Put(b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
