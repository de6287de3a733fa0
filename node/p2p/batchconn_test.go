package p2p

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair returns the two ends of a TCP connection on 127.0.0.1.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// Bytes arrive whole and in order through two batchConns, whatever the
// sizes of the writes and reads.
func TestBatchConnRoundTrip(t *testing.T) {
	a, b := tcpPair(t)
	w, r := newBatchConn(a), newBatchConn(b)
	rng := rand.New(rand.NewPCG(3, 4))
	want := make([]byte, 6<<20)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	errc := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewPCG(5, 6))
		for p := want; len(p) > 0; {
			n := min(len(p), 1+rng.IntN(100<<10))
			if _, err := w.Write(p[:n]); err != nil {
				errc <- err
				return
			}
			p = p[n:]
		}
		errc <- w.Close()
	}()
	var got bytes.Buffer
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf[:1+rng.IntN(len(buf))])
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d bytes = %v", got.Len(), err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("read %d bytes that differ from the %d written", got.Len(), len(want))
	}
}

// A Write that finds no room fails at its deadline with an error that
// matches os.ErrDeadlineExceeded, as net.Conn's writes do.
func TestBatchConnWriteDeadline(t *testing.T) {
	a, b := net.Pipe() // nobody reads b: the flusher blocks
	defer b.Close()
	c := newBatchConn(a)
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	big := make([]byte, 1<<20)
	n, err := c.Write(big)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write of %d bytes to a peer that does not read = %d, %v; want os.ErrDeadlineExceeded", len(big), n, err)
	}
	if n >= len(big) {
		t.Fatalf("Write = %d, want fewer than %d bytes accepted", n, len(big))
	}
	if _, err := c.Write([]byte("x")); err == nil {
		t.Fatal("Write after the deadline passed succeeded")
	}
}

// Bytes accepted before a deadline is moved to the past still go out: TLS
// sets its write deadline to now right after writing its closing alert.
func TestBatchConnDeadlineAfterWrite(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newBatchConn(a)
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("close notify")); err != nil {
		t.Fatal(err)
	}
	c.SetWriteDeadline(time.Now())
	if _, err := c.Write([]byte("late")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write after the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	got := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(b)
		got <- buf
	}()
	if err := c.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if g := <-got; string(g) != "close notify" {
		t.Fatalf("peer read %q, want %q", g, "close notify")
	}
}

// Close sends what was accepted before it, then closes.
func TestBatchConnCloseFlushes(t *testing.T) {
	a, b := tcpPair(t)
	c := newBatchConn(a)
	want := bytes.Repeat([]byte("0123456789abcdef"), 100<<10)
	got := make(chan []byte, 1)
	go func() {
		buf, _ := io.ReadAll(b)
		got <- buf
	}()
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if g := <-got; !bytes.Equal(g, want) {
		t.Fatalf("peer read %d bytes, want the %d written before Close", len(g), len(want))
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close = %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close = %v, want net.ErrClosed", err)
	}
}

// A failure to send accepted bytes comes back from a later Write.
func TestBatchConnWriteErrorSurfaces(t *testing.T) {
	a, b := net.Pipe()
	c := newBatchConn(a)
	defer c.Close()
	b.Close() // the flusher's writes fail from now on
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.Write([]byte("data"))
		if err != nil {
			if !errors.Is(err, io.ErrClosedPipe) {
				t.Fatalf("Write = %v, want the flusher's error %v", err, io.ErrClosedPipe)
			}
			return
		}
		// Once the buffer is full, Write waits for the flusher, which
		// fails.
		if time.Now().After(deadline) {
			t.Fatal("writes kept succeeding on a connection whose peer is gone")
		}
	}
}

// A Close that cannot flush (the peer reads nothing) still returns, at the
// bytes' deadline.
func TestBatchConnCloseBounded(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	c := newBatchConn(a)
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	c.Write([]byte("never read"))
	done := make(chan error, 1)
	go func() { done <- c.Close() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Close with unsent bytes = nil, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}
