package p2p

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/sec"
	tptu "github.com/libp2p/go-libp2p/p2p/net/upgrader"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
)

// tlsTransport is libp2p's TLS 1.3 security transport, on the wire the same
// protocol under the same ID, run over a batchConn instead of the bare
// connection. crypto/tls hands each record of at most 16 KiB to its
// connection in a separate Write, so a stream of shard bytes costs a system
// call per 16 KiB on each side, and on loopback the kernel also carries
// each one through the TCP stack as its own segment: the largest single
// cost of a store (docs/benchmarks.md). Batching records below TLS cuts
// both counts without touching the cipher or the protocol.
type tlsTransport struct {
	*libp2ptls.Transport
}

var _ sec.SecureTransport = (*tlsTransport)(nil)

// newTLS has the parameters of libp2ptls.New so that libp2p's option
// wiring can build it the same way.
func newTLS(id protocol.ID, key crypto.PrivKey, muxers []tptu.StreamMuxer) (*tlsTransport, error) {
	t, err := libp2ptls.New(id, key, muxers)
	if err != nil {
		return nil, err
	}
	return &tlsTransport{t}, nil
}

func (t *tlsTransport) SecureInbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	return t.Transport.SecureInbound(ctx, newBatchConn(insecure), p)
}

func (t *tlsTransport) SecureOutbound(ctx context.Context, insecure net.Conn, p peer.ID) (sec.SecureConn, error) {
	return t.Transport.SecureOutbound(ctx, newBatchConn(insecure), p)
}

const (
	// batchReadSize is the most one read system call of a batchConn takes
	// in, several TLS records, when they are waiting.
	batchReadSize = 256 << 10
	// batchWriteSize bounds the bytes a batchConn holds that are not yet
	// written to the connection; a Write waits for room beyond it.
	batchWriteSize = 256 << 10
	// closeFlushWait bounds how long Close waits for accepted bytes without
	// a write deadline to go out before it closes the connection anyway.
	closeFlushWait = 5 * time.Second
)

// Buffers are taken only while bytes wait in them, so the many idle
// connections of a DHT node hold none.
var (
	readBufs  = sync.Pool{New: func() any { b := make([]byte, batchReadSize); return &b }}
	writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, batchWriteSize); return &b }}
)

// batchConn is a net.Conn that batches the writes and reads of the
// connection under it. Write copies the bytes into a buffer and returns; a
// flusher goroutine writes whatever has accumulated in one system call, so
// while it is in one call, the records written meanwhile gather for the
// next: under load batches grow, and an idle connection sends each write
// at once. The flusher runs only while there is something to write, so an
// idle connection has no goroutine and a connection dropped without Close
// leaks none.
//
// Bytes accepted by Write are as good as sent, as they are once a socket
// takes them: a failure to send them is returned by the next Write (and
// every one after it) or by Close. Each batch is written under the write
// deadline that held when its last byte was accepted, so a deadline set
// after a Write (as crypto/tls does after its closing alert) does not
// cancel bytes already accepted. A Write that finds the buffer full waits
// for room until its deadline.
//
// A read that filled the caller's buffer suggests more bytes are waiting;
// the next read then takes in up to batchReadSize at once and serves the
// following reads from memory. Read deadlines apply to the system calls,
// not to bytes already taken in.
type batchConn struct {
	net.Conn

	// Read state, used by one reader at a time (as net.Conn's callers do).
	rbuf     *[]byte // bytes taken in and not yet read, rbuf[rpos:rend]
	rpos     int
	rend     int
	rbacklog bool // the last read was full: more is likely waiting

	mu      sync.Mutex
	buf     *[]byte   // accepted bytes the flusher has not taken
	bufDL   time.Time // write deadline when buf's last byte was accepted
	writeDL time.Time // current write deadline
	err     error     // first failure of the flusher, or net.ErrClosed
	busy    bool      // a flusher goroutine is running
	closed  bool
	// changed is closed and replaced whenever the flusher takes a batch or
	// ends, so that waiting writers and Close wake up.
	changed chan struct{}
	// dl is the write deadline last set on the connection; only the
	// flusher uses it, and only one flusher runs at a time.
	dl time.Time
}

func newBatchConn(c net.Conn) *batchConn {
	return &batchConn{Conn: c, changed: make(chan struct{})}
}

func (b *batchConn) Read(p []byte) (int, error) {
	if b.rbuf != nil {
		n := copy(p, (*b.rbuf)[b.rpos:b.rend])
		b.rpos += n
		if b.rpos == b.rend {
			readBufs.Put(b.rbuf)
			b.rbuf = nil
		}
		return n, nil
	}
	if !b.rbacklog || len(p) >= batchReadSize {
		n, err := b.Conn.Read(p)
		b.rbacklog = n == len(p)
		return n, err
	}
	bp := readBufs.Get().(*[]byte)
	m, err := b.Conn.Read(*bp)
	// Stay batched while a read brings more than the caller asked for.
	b.rbacklog = m > len(p)
	n := copy(p, (*bp)[:m])
	if n < m {
		b.rbuf, b.rpos, b.rend = bp, n, m
	} else {
		readBufs.Put(bp)
	}
	if err != nil && n < m {
		// Deliver the bytes first; the error comes with the next read
		// that reaches the connection.
		err = nil
	}
	return n, err
}

func (b *batchConn) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		b.mu.Lock()
		if b.err != nil {
			err := b.err
			b.mu.Unlock()
			return written, err
		}
		if !b.writeDL.IsZero() && !time.Now().Before(b.writeDL) {
			b.mu.Unlock()
			return written, os.ErrDeadlineExceeded
		}
		if b.buf == nil {
			b.buf = writeBufs.Get().(*[]byte)
		}
		buf := *b.buf
		if len(buf) == cap(buf) {
			wait, dl := b.changed, b.writeDL
			b.mu.Unlock()
			if err := waitUntil(wait, dl); err != nil {
				return written, err
			}
			continue
		}
		k := copy(buf[len(buf):cap(buf)], p)
		*b.buf = buf[:len(buf)+k]
		b.bufDL = b.writeDL
		p = p[k:]
		written += k
		start := !b.busy
		b.busy = true
		b.mu.Unlock()
		if start {
			go b.flush()
		}
	}
	return written, nil
}

// waitUntil waits for ch to close or the deadline dl (zero: none) to pass.
func waitUntil(ch <-chan struct{}, dl time.Time) error {
	if dl.IsZero() {
		<-ch
		return nil
	}
	t := time.NewTimer(time.Until(dl))
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

// broadcast wakes everyone waiting on changed. Called with mu held.
func (b *batchConn) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// flush writes batches until there is nothing left to write or a write
// fails, then ends.
func (b *batchConn) flush() {
	for {
		b.mu.Lock()
		if b.buf == nil || len(*b.buf) == 0 || b.err != nil {
			b.busy = false
			b.broadcast()
			b.mu.Unlock()
			return
		}
		batch, bdl := b.buf, b.bufDL
		b.buf = nil
		b.broadcast()
		b.mu.Unlock()

		var err error
		if !bdl.Equal(b.dl) {
			err = b.Conn.SetWriteDeadline(bdl)
			b.dl = bdl
		}
		if err == nil {
			_, err = b.Conn.Write(*batch)
		}
		*batch = (*batch)[:0]
		writeBufs.Put(batch)
		if err != nil {
			b.mu.Lock()
			if b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
		}
	}
}

// SetDeadline sets the read deadline of the connection and the write
// deadline of the bytes written from now on.
func (b *batchConn) SetDeadline(t time.Time) error {
	b.setWriteDeadline(t)
	return b.Conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the write deadline of the bytes written from now
// on.
func (b *batchConn) SetWriteDeadline(t time.Time) error {
	b.setWriteDeadline(t)
	return nil
}

func (b *batchConn) setWriteDeadline(t time.Time) {
	b.mu.Lock()
	b.writeDL = t
	b.mu.Unlock()
}

// Close waits for the accepted bytes to be written, up to their deadline
// or closeFlushWait if they have none, then closes the connection. It
// returns the error that kept them from going out, if one did.
func (b *batchConn) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return net.ErrClosed
	}
	b.closed = true
	limit := time.Now().Add(closeFlushWait)
	for b.busy && b.err == nil {
		wait, dl := b.changed, b.bufDL
		if dl.IsZero() || dl.After(limit) {
			dl = limit
		}
		b.mu.Unlock()
		err := waitUntil(wait, dl)
		b.mu.Lock()
		if err != nil {
			break
		}
	}
	flushErr := b.err
	if flushErr == nil && b.busy {
		flushErr = fmt.Errorf("close with bytes not yet sent: %w", os.ErrDeadlineExceeded)
	}
	if b.err == nil {
		b.err = net.ErrClosed
	}
	b.mu.Unlock()
	err := b.Conn.Close()
	if flushErr != nil {
		return flushErr
	}
	return err
}
