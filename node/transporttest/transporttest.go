// Package transporttest is a conformance suite for dsn.Transport
// implementations. Every transport (the in-process one, the libp2p one) runs
// the same Run, so protocol code written against one behaves the same over
// the others.
//
// It checks what protocol code relies on: echo and peer identity, large
// transfers with bounded buffering (backpressure), half-close, resets seen by
// the other end, deadlines on reads and writes, unknown protocols, replaced
// and removed handlers, cancelled contexts, and many concurrent streams. It
// does not test faults that need control over the network (killed peers,
// partitions): those belong to each transport's own tests.
package transporttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
)

// Protocol IDs the suite registers on the transports it is given.
const (
	echoProto  = "/dsn/test/echo/1.0.0"
	sinkProto  = "/dsn/test/sink/1.0.0"
	holdProto  = "/dsn/test/hold/1.0.0"
	resetProto = "/dsn/test/reset/1.0.0"
	lateProto  = "/dsn/test/late/1.0.0"
)

// LargeSize is the size of the large transfer: well above any reasonable
// stream window, so that it exercises backpressure.
const LargeSize = 64 << 20

// wait bounds every wait in the suite; nothing should come close to it.
const wait = 10 * time.Second

// Run runs the suite. newPair returns two transports that can open streams
// to each other; it is called once per subtest, and the transports must stay
// usable until the subtest ends (use t.Cleanup to release them).
func Run(t *testing.T, newPair func(t *testing.T) (a, b dsn.Transport)) {
	tests := []struct {
		name string
		f    func(t *testing.T, a, b dsn.Transport)
	}{
		{"Echo", testEcho},
		{"Peers", testPeers},
		{"LargeTransfer", testLarge},
		{"Backpressure", testBackpressure},
		{"HalfClose", testHalfClose},
		{"CloseStopsRemoteWrites", testCloseStopsRemoteWrites},
		{"ResetByOpener", testResetByOpener},
		{"ResetByHandler", testResetByHandler},
		{"ReadDeadline", testReadDeadline},
		{"PastDeadline", testPastDeadline},
		{"UnknownProtocol", testUnknownProtocol},
		{"ReplaceAndRemoveHandler", testReplaceHandler},
		{"CancelledContext", testCancelledContext},
		{"ConcurrentStreams", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newPair(t)
			tc.f(t, a, b)
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// pattern returns n deterministic bytes that differ per seed.
func pattern(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func echoHandler(s dsn.Stream) {
	_ = s.SetDeadline(time.Now().Add(wait))
	if _, err := io.Copy(s, s); err != nil {
		_ = s.Reset()
		return
	}
	_ = s.Close()
}

// roundTrip sends msg over a new echo stream and returns what comes back.
func roundTrip(ctx context.Context, a dsn.Transport, to dsn.PeerID, msg []byte) ([]byte, error) {
	s, err := a.NewStream(ctx, to, echoProto)
	if err != nil {
		return nil, err
	}
	_ = s.SetDeadline(time.Now().Add(wait))
	errc := make(chan error, 1)
	go func() {
		_, err := s.Write(msg)
		if err == nil {
			err = s.CloseWrite()
		}
		errc <- err
	}()
	got, rerr := io.ReadAll(s)
	werr := <-errc
	if rerr != nil || werr != nil {
		_ = s.Reset()
		return got, fmt.Errorf("read: %v, write: %v", rerr, werr)
	}
	return got, s.Close()
}

func testEcho(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	peer := make(chan dsn.PeerID, 1)
	b.SetStreamHandler(echoProto, func(s dsn.Stream) {
		peer <- s.RemotePeer()
		echoHandler(s)
	})
	s, err := a.NewStream(ctx, b.Self(), echoProto)
	if err != nil {
		t.Fatalf("NewStream(%q) = %v", echoProto, err)
	}
	defer s.Close()
	if got := s.RemotePeer(); got != b.Self() {
		t.Errorf("opener RemotePeer() = %q, want %q", got, b.Self())
	}
	msg := []byte("hello, provider")
	if _, err := s.Write(msg); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite = %v", err)
	}
	_ = s.SetDeadline(time.Now().Add(wait))
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, msg) {
		t.Errorf("ReadAll = %q, %v; want %q, nil", got, err, msg)
	}
	select {
	case p := <-peer:
		if p != a.Self() {
			t.Errorf("handler RemotePeer() = %q, want %q", p, a.Self())
		}
	case <-ctx.Done():
		t.Fatal("handler never ran")
	}
}

func testPeers(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(echoProto, echoHandler)
	if _, err := roundTrip(ctx, a, b.Self(), []byte("x")); err != nil {
		t.Fatalf("echo = %v", err)
	}
	if got := a.Peers(); !slices.Contains(got, b.Self()) {
		t.Errorf("a.Peers() = %q, want it to contain %q", got, b.Self())
	}
	if got := a.Peers(); slices.Contains(got, a.Self()) {
		t.Errorf("a.Peers() = %q, contains itself", got)
	}
}

// testLarge streams LargeSize bytes to a handler that hashes them and sends
// back the hash, with the reader and writer running concurrently.
func testLarge(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(sinkProto, func(s dsn.Stream) {
		_ = s.SetDeadline(time.Now().Add(wait))
		h := blake3.New()
		n, err := io.Copy(h, s)
		if err != nil {
			_ = s.Reset()
			return
		}
		fmt.Fprintf(s, "%d %x", n, h.Sum(nil))
		_ = s.Close()
	})
	s, err := a.NewStream(ctx, b.Self(), sinkProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	_ = s.SetDeadline(time.Now().Add(wait))
	chunk := pattern(1, 1<<20)
	h := blake3.New()
	for sent := 0; sent < LargeSize; sent += len(chunk) {
		h.Write(chunk)
		if _, err := s.Write(chunk); err != nil {
			t.Fatalf("Write at %d = %v", sent, err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite = %v", err)
	}
	got, err := io.ReadAll(s)
	want := fmt.Sprintf("%d %x", LargeSize, h.Sum(nil))
	if err != nil || string(got) != want {
		t.Errorf("sink reply = %q, %v; want %q", got, err, want)
	}
	_ = s.Close()
}

// testBackpressure checks that a writer cannot run far ahead of a reader
// that does not read: a LargeSize write must stop at the write deadline
// having written less than everything, and the stream must then still carry
// what was written once the reader starts.
func testBackpressure(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	release := make(chan struct{})
	got := make(chan int64, 1)
	b.SetStreamHandler(holdProto, func(s dsn.Stream) {
		select {
		case <-release:
		case <-time.After(wait):
		}
		_ = s.SetDeadline(time.Now().Add(wait))
		n, _ := io.Copy(io.Discard, s)
		got <- n
		_ = s.Close()
	})
	s, err := a.NewStream(ctx, b.Self(), holdProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := s.Write(make([]byte, LargeSize))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write(%d bytes) to a stalled reader = %d, %v; want a deadline error", LargeSize, n, err)
	}
	if n >= LargeSize {
		t.Fatalf("Write to a stalled reader accepted all %d bytes: no backpressure", n)
	}
	close(release)
	_ = s.SetDeadline(time.Now().Add(wait))
	if err := s.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite = %v", err)
	}
	select {
	case m := <-got:
		if m != int64(n) {
			t.Errorf("reader got %d bytes, writer wrote %d", m, n)
		}
	case <-ctx.Done():
		t.Fatal("reader never finished")
	}
}

// testHalfClose checks that after the opener's CloseWrite the handler reads
// EOF and can still reply, and that the opener cannot write any more.
func testHalfClose(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(echoProto, func(s dsn.Stream) {
		_ = s.SetDeadline(time.Now().Add(wait))
		req, err := io.ReadAll(s)
		if err != nil {
			_ = s.Reset()
			return
		}
		// The request has ended; the reply direction is still open.
		fmt.Fprintf(s, "got %q", req)
		_ = s.Close()
	})
	s, err := a.NewStream(ctx, b.Self(), echoProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(wait))
	if _, err := s.Write([]byte("ping")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite = %v", err)
	}
	if _, err := s.Write([]byte("more")); err == nil {
		t.Errorf("Write after CloseWrite = nil error, want an error")
	}
	got, err := io.ReadAll(s)
	if want := `got "ping"`; err != nil || string(got) != want {
		t.Errorf("reply = %q, %v; want %q, nil", got, err, want)
	}
}

// testCloseStopsRemoteWrites checks that once the handler has closed the
// stream, the opener can read what it sent, and that the opener's writes
// do not block forever (they fail, or are discarded, per transport).
func testCloseStopsRemoteWrites(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(echoProto, func(s dsn.Stream) {
		_, _ = s.Write([]byte("bye"))
		_ = s.Close()
	})
	s, err := a.NewStream(ctx, b.Self(), echoProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(wait))
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "bye" {
		t.Fatalf("ReadAll = %q, %v; want %q, nil", got, err, "bye")
	}
	// Write more than any window: it must not hang until the deadline.
	_ = s.SetDeadline(time.Now().Add(wait))
	buf := make([]byte, 1<<20)
	for i := 0; i < LargeSize/len(buf); i++ {
		if _, err := s.Write(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Write to a closed peer hit the deadline: %v", err)
			}
			return
		}
	}
}

func testResetByOpener(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	started := make(chan struct{})
	result := make(chan error, 1)
	b.SetStreamHandler(holdProto, func(s dsn.Stream) {
		_ = s.SetDeadline(time.Now().Add(wait))
		var one [1]byte
		_, err := io.ReadFull(s, one[:])
		close(started)
		if err == nil {
			_, err = io.Copy(io.Discard, s)
		}
		result <- err
		_ = s.Close()
	})
	s, err := a.NewStream(ctx, b.Self(), holdProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("handler never read the first byte")
	}
	if err := s.Reset(); err != nil {
		t.Fatalf("Reset = %v", err)
	}
	select {
	case err := <-result:
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("handler read after opener's Reset = %v, want a reset error", err)
		}
	case <-ctx.Done():
		t.Fatal("handler never saw the reset")
	}
	if _, err := s.Write([]byte("y")); err == nil {
		t.Errorf("Write after own Reset = nil, want an error")
	}
	if _, err := s.Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Errorf("Read after own Reset = %v, want a non-EOF error", err)
	}
}

func testResetByHandler(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(resetProto, func(s dsn.Stream) {
		var one [1]byte
		_ = s.SetDeadline(time.Now().Add(wait))
		_, _ = io.ReadFull(s, one[:])
		_ = s.Reset()
	})
	s, err := a.NewStream(ctx, b.Self(), resetProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(wait))
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatalf("Write = %v", err)
	}
	_, err = io.ReadAll(s)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read after handler's Reset = %v, want a reset error", err)
	}
	// Writes fail too, at the latest once a window's worth is in flight.
	buf := make([]byte, 1<<20)
	for i := 0; ; i++ {
		_, err := s.Write(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("Write after handler's Reset hit the deadline, want a reset error")
			}
			break
		}
		if i > LargeSize/len(buf) {
			t.Fatalf("wrote %d bytes after the handler's Reset without an error", i*len(buf))
		}
	}
}

// testReadDeadline checks that a read deadline fails a blocked read with
// os.ErrDeadlineExceeded and that the stream works again once the deadline
// is cleared.
func testReadDeadline(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	release := make(chan struct{})
	b.SetStreamHandler(lateProto, func(s dsn.Stream) {
		select {
		case <-release:
			_, _ = s.Write([]byte("late"))
			_ = s.Close()
		case <-time.After(wait):
			_ = s.Reset()
		}
	})
	s, err := a.NewStream(ctx, b.Self(), lateProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := s.Read(make([]byte, 8))
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past deadline = %d, %v; want 0, os.ErrDeadlineExceeded", n, err)
	}
	_ = s.SetDeadline(time.Time{})
	close(release)
	_ = s.SetDeadline(time.Now().Add(wait))
	got, err := io.ReadAll(s)
	if err != nil || string(got) != "late" {
		t.Errorf("ReadAll after clearing the deadline = %q, %v; want %q, nil", got, err, "late")
	}
}

func testPastDeadline(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(echoProto, echoHandler)
	s, err := a.NewStream(ctx, b.Self(), echoProto)
	if err != nil {
		t.Fatalf("NewStream = %v", err)
	}
	defer s.Reset()
	_ = s.SetDeadline(time.Now().Add(-time.Second))
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Read with a past deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write with a past deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}

func testUnknownProtocol(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(echoProto, echoHandler)
	s, err := a.NewStream(ctx, b.Self(), "/dsn/test/nope/1.0.0")
	if !errors.Is(err, dsn.ErrProtocolNotSupported) {
		if s != nil {
			_ = s.Reset()
		}
		t.Fatalf("NewStream(unknown protocol) = %v, want dsn.ErrProtocolNotSupported", err)
	}
}

func testReplaceHandler(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	reply := func(msg string) dsn.StreamHandler {
		return func(s dsn.Stream) {
			_, _ = s.Write([]byte(msg))
			_ = s.Close()
		}
	}
	read := func() (string, error) {
		s, err := a.NewStream(ctx, b.Self(), echoProto)
		if err != nil {
			return "", err
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(wait))
		got, err := io.ReadAll(s)
		return string(got), err
	}
	b.SetStreamHandler(echoProto, reply("first"))
	b.SetStreamHandler(echoProto, reply("second"))
	if got, err := read(); err != nil || got != "second" {
		t.Errorf("after replacing the handler: reply = %q, %v; want %q, nil", got, err, "second")
	}
	b.RemoveStreamHandler(echoProto)
	if _, err := read(); !errors.Is(err, dsn.ErrProtocolNotSupported) {
		t.Errorf("after RemoveStreamHandler: NewStream = %v, want dsn.ErrProtocolNotSupported", err)
	}
}

func testCancelledContext(t *testing.T, a, b dsn.Transport) {
	b.SetStreamHandler(echoProto, echoHandler)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := a.NewStream(ctx, b.Self(), echoProto)
	if !errors.Is(err, context.Canceled) {
		if s != nil {
			_ = s.Reset()
		}
		t.Errorf("NewStream(cancelled ctx) = %v, want context.Canceled", err)
	}
}

func testConcurrent(t *testing.T, a, b dsn.Transport) {
	ctx := ctxFor(t)
	b.SetStreamHandler(echoProto, echoHandler)
	const streams = 16
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Go(func() {
			msg := pattern(i+100, 256<<10+i)
			got, err := roundTrip(ctx, a, b.Self(), msg)
			if err == nil && !bytes.Equal(got, msg) {
				err = fmt.Errorf("got %d bytes back, want the %d sent", len(got), len(msg))
			}
			if err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
