package inproc

import (
	"io"
	"os"
	"sync"
	"time"
)

// MaxBuffer is how many bytes one direction of a stream holds before writes
// block. It plays the part of a multiplexer's receive window: big enough to
// keep a fast reader busy, small enough that many streams stay cheap.
const MaxBuffer = 1 << 20

// minBuffer is the first allocation of a direction's buffer, so that
// streams carrying a few small messages never hold a full window.
const minBuffer = 16 << 10

// pipe is one direction of a stream: a ring buffer of at most MaxBuffer
// bytes between one writing end and one reading end.
type pipe struct {
	mu   sync.Mutex
	buf  []byte // ring; grows up to MaxBuffer
	head int    // index of the first buffered byte
	n    int    // number of buffered bytes

	eof    bool  // the writer called CloseWrite: reads end, writes fail
	sawEOF bool  // the reader has been told io.EOF
	rerr   error // non-nil: reads fail with it (reset, or reader closed)
	werr   error // non-nil: writes fail with it (reset, or reader gone)

	// Waiters block on these channels; whoever changes the state closes them
	// and clears the field. They are made only when someone has to wait, so
	// a stream that never blocks allocates nothing per operation.
	rwait chan struct{}
	wwait chan struct{}
}

func (p *pipe) wakeReaders() {
	if p.rwait != nil {
		close(p.rwait)
		p.rwait = nil
	}
}

func (p *pipe) wakeWriters() {
	if p.wwait != nil {
		close(p.wwait)
		p.wwait = nil
	}
}

// read copies buffered bytes into b, waiting for some when none are there.
func (p *pipe) read(b []byte, dl *deadline) (int, error) {
	p.mu.Lock()
	for {
		if p.rerr != nil {
			err := p.rerr
			p.mu.Unlock()
			return 0, err
		}
		if dl.expired() {
			p.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		if p.n > 0 {
			c := p.copyOut(b)
			p.wakeWriters()
			p.mu.Unlock()
			return c, nil
		}
		if p.eof {
			p.sawEOF = true
			p.release()
			p.mu.Unlock()
			return 0, io.EOF
		}
		if len(b) == 0 {
			p.mu.Unlock()
			return 0, nil
		}
		if p.rwait == nil {
			p.rwait = make(chan struct{})
		}
		ch := p.rwait
		p.mu.Unlock()
		select {
		case <-ch:
		case <-dl.done():
		}
		p.mu.Lock()
	}
}

// write copies b into the buffer, waiting for room as the reader drains it.
func (p *pipe) write(b []byte, dl *deadline) (int, error) {
	total := 0
	p.mu.Lock()
	for {
		if p.werr != nil {
			err := p.werr
			p.mu.Unlock()
			return total, err
		}
		if p.eof {
			p.mu.Unlock()
			return total, ErrClosed
		}
		if dl.expired() {
			p.mu.Unlock()
			return total, os.ErrDeadlineExceeded
		}
		if len(b) == 0 {
			p.mu.Unlock()
			return total, nil
		}
		if p.n < MaxBuffer {
			c := p.copyIn(b)
			total += c
			b = b[c:]
			p.wakeReaders()
			continue
		}
		if p.wwait == nil {
			p.wwait = make(chan struct{})
		}
		ch := p.wwait
		p.mu.Unlock()
		select {
		case <-ch:
		case <-dl.done():
		}
		p.mu.Lock()
	}
}

// copyOut moves up to len(b) buffered bytes into b. p.mu is held.
func (p *pipe) copyOut(b []byte) int {
	c := 0
	for c < len(b) && p.n > 0 {
		end := min(p.head+p.n, len(p.buf))
		k := copy(b[c:], p.buf[p.head:end])
		c += k
		p.n -= k
		p.head += k
		if p.head == len(p.buf) {
			p.head = 0
		}
	}
	if p.n == 0 {
		p.head = 0 // keeps later copies contiguous
	}
	return c
}

// copyIn appends as much of b as fits under MaxBuffer. p.mu is held.
func (p *pipe) copyIn(b []byte) int {
	want := min(p.n+len(b), MaxBuffer)
	if want > len(p.buf) {
		p.grow(want)
	}
	c := 0
	for c < len(b) && p.n < len(p.buf) {
		tail := (p.head + p.n) % len(p.buf)
		end := len(p.buf)
		if tail < p.head {
			end = p.head
		}
		k := copy(p.buf[tail:end], b[c:])
		c += k
		p.n += k
	}
	return c
}

// fullBuffers recycles full-size rings: a stream that carries a shard
// needs one for its lifetime only, and allocating a fresh MiB per stream
// would make the garbage collector a large part of the cost of a transfer.
var fullBuffers = sync.Pool{New: func() any { return new([MaxBuffer]byte) }}

// grow reallocates the ring to hold at least want bytes, linearising it.
// Small streams get a small ring; anything past it gets a full one.
func (p *pipe) grow(want int) {
	var nb []byte
	if want <= minBuffer {
		nb = make([]byte, minBuffer)
	} else {
		nb = fullBuffers.Get().(*[MaxBuffer]byte)[:]
	}
	got := p.copyOutTo(nb)
	p.release()
	p.buf, p.head, p.n = nb, 0, got
}

// release gives a full-size ring back to the pool. p.mu is held, and no
// byte of the ring is referenced afterwards.
func (p *pipe) release() {
	if len(p.buf) == MaxBuffer {
		fullBuffers.Put((*[MaxBuffer]byte)(p.buf))
	}
	p.buf, p.head, p.n = nil, 0, 0
}

// copyOutTo copies the buffered bytes into dst without consuming them.
func (p *pipe) copyOutTo(dst []byte) int {
	if p.n == 0 {
		return 0
	}
	end := min(p.head+p.n, len(p.buf))
	c := copy(dst, p.buf[p.head:end])
	if c < p.n {
		c += copy(dst[c:], p.buf[:p.n-c])
	}
	return c
}

// closeWrite marks the end of the data: the reader sees io.EOF after the
// buffered bytes.
func (p *pipe) closeWrite() {
	p.mu.Lock()
	p.eof = true
	p.wakeReaders()
	p.wakeWriters()
	p.mu.Unlock()
}

// closeRead is the reading end going away: its reads fail with ErrClosed,
// buffered bytes are dropped, and the writer's writes fail with ErrReset.
func (p *pipe) closeRead() {
	p.mu.Lock()
	if p.rerr == nil {
		p.rerr = ErrClosed
	}
	if p.werr == nil {
		p.werr = ErrReset
	}
	p.drop()
	p.mu.Unlock()
}

// failBoth aborts the two directions of one connection at once: reads and
// writes at both ends of both fail with err, and neither end can see its
// direction fail before the other
// direction carries err too, so an end that reacts to the fault by
// resetting its stream cannot put its reset in place of the fault at the
// other end. Nothing else holds two pipes' locks, so the order is free.
func failBoth(p, q *pipe, err error) {
	p.mu.Lock()
	q.mu.Lock()
	for _, x := range []*pipe{p, q} {
		if x.rerr == nil {
			x.rerr = err
		}
		if x.werr == nil {
			x.werr = err
		}
		x.drop()
	}
	q.mu.Unlock()
	p.mu.Unlock()
}

// drop discards buffered bytes and wakes everyone. p.mu is held.
func (p *pipe) drop() {
	p.release()
	p.wakeReaders()
	p.wakeWriters()
}

// finished reports whether this direction can carry nothing more.
func (p *pipe) finished() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.werr != nil || p.sawEOF
}

// deadline is a settable point in time that wakes waiters when it passes.
// The zero value has no deadline.
type deadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{} // closed once the deadline has passed
}

// set arms the deadline; the zero time disarms it.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
	if d.ch == nil || isClosed(d.ch) {
		d.ch = make(chan struct{})
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.ch)
		return
	}
	ch := d.ch
	d.timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		// A later set may have replaced the channel; only close ours.
		if d.ch == ch && !isClosed(ch) {
			close(ch)
		}
		d.mu.Unlock()
	})
}

// done returns a channel closed when the deadline passes (nil: never).
func (d *deadline) done() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch != nil && isClosed(d.ch)
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
