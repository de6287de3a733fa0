package directio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Align is the alignment of the file offsets, lengths and memory that
// O_DIRECT needs: the logical block size, 512 or 4096 bytes on the disks
// we know, so 4096 serves both.
const Align = 4096

// Alloc returns n bytes whose first byte is aligned to Align.
func Alloc(n int) []byte {
	b := make([]byte, n+Align)
	off := (Align - int(uintptr(unsafe.Pointer(&b[0]))%Align)) % Align
	return b[off:][:n:n]
}

// Set turns O_DIRECT on or off for the open file fd. It fails where the
// system or file system has no direct I/O.
func Set(fd uintptr, on bool) error { return setDirect(fd, on) }

// Writer writes a file sequentially, from its current offset, through
// aligned buffers that its own goroutine writes with O_DIRECT while the
// caller fills the next: the disk works while the caller computes. The
// unaligned end of the file is written through the page cache by Close.
// A file system that refuses O_DIRECT, when it is turned on or at a
// write, gets the bytes through the page cache instead.
//
// A Writer is not safe for concurrent use. Close must be called, and the
// file synced afterwards if the bytes must be durable: O_DIRECT bypasses
// the cache, not the disk's own, nor the file's metadata.
type Writer struct {
	f      *os.File
	cur    []byte
	free   chan []byte
	full   chan []byte
	done   chan error
	mu     sync.Mutex
	err    error // the writer goroutine's first error
	closed bool
	direct bool // O_DIRECT is on; owned by the writer goroutine once started
}

// NewWriter returns a Writer on f with two buffers of bufSize bytes,
// rounded up to a multiple of Align. Where O_DIRECT cannot be had, or
// would bypass nothing (a file system in memory), the Writer has no
// buffers and writes straight through to f.
func NewWriter(f *os.File, bufSize int) *Writer {
	w := &Writer{f: f}
	if inMemory(f.Fd()) || Set(f.Fd(), true) != nil {
		return w
	}
	w.direct = true
	bufSize = (max(bufSize, Align) + Align - 1) &^ (Align - 1)
	w.free = make(chan []byte, 2)
	w.full = make(chan []byte, 2)
	w.done = make(chan error, 1)
	for range 2 {
		w.free <- Alloc(bufSize)[:0]
	}
	w.cur = <-w.free
	go w.run()
	return w
}

func (w *Writer) run() {
	var err error
	for b := range w.full {
		if err == nil {
			if _, _, err = Write(w.f, b, &w.direct); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		}
		// Always hand the buffer back, so Write never blocks on a
		// failed writer.
		w.free <- b[:0]
	}
	w.done <- err
}

// File is what Write needs of an open file.
type File interface {
	io.Writer
	Fd() uintptr
}

// Write writes b at f's offset. While *direct is true, f has O_DIRECT on
// and b's memory is aligned: the aligned part of b goes directly, and the
// rest (only ever at the end of a file) after turning O_DIRECT off, which
// clears *direct. A file system that took the flag but refuses the write
// (EINVAL) gets what is left through the page cache, and refused is that
// refusal, for the caller to stop asking for direct writes.
func Write(f File, b []byte, direct *bool) (n int, refused, err error) {
	if *direct {
		aligned := len(b) &^ (Align - 1)
		if aligned > 0 {
			n, err = f.Write(b[:aligned])
			if err != nil && !errors.Is(err, syscall.EINVAL) {
				return n, nil, err
			}
			refused = err
			b = b[n:]
		}
		if len(b) == 0 {
			return n, refused, nil
		}
		if err := Set(f.Fd(), false); err != nil {
			return n, refused, fmt.Errorf("leave direct I/O: %w", err)
		}
		*direct = false
	}
	m, err := f.Write(b)
	return n + m, refused, err
}

func (w *Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write copies p into the buffers; full buffers are written in the
// background. It reports the first error of an earlier write.
func (w *Writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, os.ErrClosed
	}
	if w.full == nil {
		return w.f.Write(p)
	}
	if err := w.failed(); err != nil {
		return 0, err
	}
	n := 0
	for len(p) > 0 {
		c := copy(w.cur[len(w.cur):cap(w.cur)], p)
		w.cur = w.cur[:len(w.cur)+c]
		p = p[c:]
		n += c
		if len(w.cur) == cap(w.cur) {
			w.full <- w.cur
			w.cur = <-w.free
		}
	}
	return n, nil
}

// Close writes what is buffered, waits for every write and returns the
// first error. It leaves the file open, with O_DIRECT off.
func (w *Writer) Close() error {
	if w.closed {
		return os.ErrClosed
	}
	w.closed = true
	if w.full == nil {
		return nil
	}
	if len(w.cur) > 0 {
		w.full <- w.cur
	}
	close(w.full)
	err := <-w.done
	if w.direct {
		if serr := Set(w.f.Fd(), false); serr != nil && err == nil {
			err = fmt.Errorf("leave direct I/O: %w", serr)
		}
		w.direct = false
	}
	return err
}
