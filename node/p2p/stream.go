package p2p

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-yamux/v5"

	"github.com/dsn-project/dsn"
)

// stream is a dsn.Stream over a libp2p stream. It adds what the shared
// stream contract asks for and libp2p's muxers do not all give: deadlines
// that fail reads and writes once passed (yamux lets a write through past
// its deadline while the window has room, and reports timeouts with an
// error that does not match os.ErrDeadlineExceeded), and a Close that stops
// the remote's writes on yamux as on QUIC.
type stream struct {
	s network.Stream
	// muxed is true when the stream runs over a muxer on a byte-stream
	// connection (yamux over TCP or a relay), false for QUIC's native
	// streams.
	muxed bool
	// Deadlines in Unix nanoseconds, 0 for none.
	readDL, writeDL atomic.Int64
}

var _ dsn.Stream = (*stream)(nil)

func newStream(s network.Stream) *stream {
	return &stream{s: s, muxed: s.Conn().ConnState().StreamMultiplexer != ""}
}

func (s *stream) Read(b []byte) (int, error) {
	if passed(&s.readDL) {
		return 0, errDeadline
	}
	n, err := s.s.Read(b)
	return n, mapStreamErr(err)
}

func (s *stream) Write(b []byte) (int, error) {
	if passed(&s.writeDL) {
		return 0, errDeadline
	}
	n, err := s.s.Write(b)
	return n, mapStreamErr(err)
}

// CloseWrite half-closes the stream: the remote reads what was written,
// then io.EOF.
func (s *stream) CloseWrite() error { return s.s.CloseWrite() }

// Close closes both directions. The remote reads everything written before
// Close, then io.EOF; its later writes fail with a reset error instead of
// filling a window nobody reads.
//
// QUIC's Close does this itself (STOP_SENDING). yamux has no such frame:
// its CloseRead only forgets the stream locally, and the remote's writes
// then block once its window is spent. So on yamux Close sends FIN and then
// RST. yamux delivers frames in order and, on an RST after a FIN, keeps the
// already half-closed read side of the receiver intact, so the remote still
// reads all data and EOF while its write side is reset. If the remote had
// already closed its side, the stream is finished after the FIN and Reset
// sends nothing.
func (s *stream) Close() error {
	if !s.muxed {
		return s.s.Close()
	}
	err := s.s.CloseWrite()
	if rerr := s.s.Reset(); err == nil {
		err = rerr
	}
	return err
}

// Reset aborts both directions at both ends.
func (s *stream) Reset() error { return s.s.Reset() }

// SetDeadline bounds reads and writes, as net.Conn's does.
func (s *stream) SetDeadline(t time.Time) error {
	store(&s.readDL, t)
	store(&s.writeDL, t)
	return s.s.SetDeadline(t)
}

// SetReadDeadline bounds reads only.
func (s *stream) SetReadDeadline(t time.Time) error {
	store(&s.readDL, t)
	return s.s.SetReadDeadline(t)
}

// SetWriteDeadline bounds writes only.
func (s *stream) SetWriteDeadline(t time.Time) error {
	store(&s.writeDL, t)
	return s.s.SetWriteDeadline(t)
}

func (s *stream) RemotePeer() dsn.PeerID { return dsn.PeerID(s.s.Conn().RemotePeer()) }

func store(v *atomic.Int64, t time.Time) {
	if t.IsZero() {
		v.Store(0)
		return
	}
	v.Store(t.UnixNano())
}

func passed(v *atomic.Int64) bool {
	d := v.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

// errDeadline is what reads and writes return once their deadline passed.
var errDeadline = fmt.Errorf("stream: %w", os.ErrDeadlineExceeded)

// mapStreamErr makes muxer timeouts match os.ErrDeadlineExceeded, as
// net.Conn's do, keeping the original in the chain. io.EOF is returned as
// is: callers compare it with ==.
func mapStreamErr(err error) error {
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if errors.Is(err, yamux.ErrTimeout) {
		return fmt.Errorf("stream: %w (%w)", os.ErrDeadlineExceeded, err)
	}
	return err
}
