package shardproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/slots"
)

// Defaults for ServerOptions and for clients whose context has no deadline.
const (
	DefaultMaxConcurrent = 64
	DefaultTimeout       = 30 * time.Second
	// DefaultMinRate is the slowest transfer rate, in bytes per second, that
	// a stream's deadline allows for beyond its fixed Timeout: a 16 MiB
	// shard gets 16 s more. Slower peers are cut off rather than holding a
	// transfer slot forever, and the rate is kept all along a transfer,
	// not only on average over it (see pace).
	DefaultMinRate = 1 << 20
)

// copyBufSize is the size of the buffers that move shard bytes between a
// stream and a store: large enough that per-call costs vanish at GB/s.
const copyBufSize = 256 << 10

var copyBufs = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// ServerOptions configures a Server. Zero values mean the defaults.
type ServerOptions struct {
	// MaxConcurrent bounds the transfers served at once, puts and gets
	// together; requests beyond it are answered Busy at once.
	MaxConcurrent int
	// MaxPerPeer bounds the transfers served at once for any one peer, so
	// that a peer that opens streams and stalls cannot take every slot;
	// 0 means slots.DefaultPerPeer(MaxConcurrent).
	MaxPerPeer int
	// Timeout bounds each stream: reading the request and the fixed part of
	// the transfer. The deadline grows by the transfer size over MinRate.
	Timeout time.Duration
	// MinRate is the slowest rate, in bytes per second, a transfer is
	// allowed before its deadline cuts it off.
	MinRate int64
	// Logger receives one line per failed request; nil discards.
	Logger *slog.Logger
}

// Store is what a Server serves: it takes shards in and reads them out.
type Store interface {
	dsn.ShardReceiver
	dsn.ShardFetcher
}

// Server serves PutProtocol and GetProtocol from a store. It is safe for
// concurrent use; register it on any number of transports.
type Server struct {
	store Store
	opts  ServerOptions
	log   *slog.Logger
	slots *slots.Limiter[dsn.PeerID]

	puts, putErrors, gets, getErrors atomic.Int64
	badRequests, busy                atomic.Int64
	bytesIn, bytesOut                atomic.Int64
}

// Stats are a Server's counters since it was made.
type Stats struct {
	Puts        int64 // shards acknowledged OK
	PutErrors   int64 // puts answered with an error code or broken off
	Gets        int64 // ranges sent in full
	GetErrors   int64 // gets answered with an error code or broken off
	BadRequests int64 // malformed request frames (also counted as errors)
	Busy        int64 // requests turned away at MaxConcurrent or MaxPerPeer
	BytesIn     int64 // shard bytes read from clients
	BytesOut    int64 // shard bytes written to clients
}

// NewServer returns a Server for store.
func NewServer(store Store, opts ServerOptions) *Server {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MinRate <= 0 {
		opts.MinRate = DefaultMinRate
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{store: store, opts: opts, log: log, slots: slots.New[dsn.PeerID](opts.MaxConcurrent, opts.MaxPerPeer)}
}

// Register serves both protocols on t.
func (s *Server) Register(t dsn.Transport) {
	t.SetStreamHandler(PutProtocol, s.handlePut)
	t.SetStreamHandler(GetProtocol, s.handleGet)
}

// Unregister stops serving both protocols on t, so that a store about to
// close is not asked for more.
func (s *Server) Unregister(t dsn.Transport) {
	t.RemoveStreamHandler(PutProtocol)
	t.RemoveStreamHandler(GetProtocol)
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Puts:        s.puts.Load(),
		PutErrors:   s.putErrors.Load(),
		Gets:        s.gets.Load(),
		GetErrors:   s.getErrors.Load(),
		BadRequests: s.badRequests.Load(),
		Busy:        s.busy.Load(),
		BytesIn:     s.bytesIn.Load(),
		BytesOut:    s.bytesOut.Load(),
	}
}

// transferDeadline is when a transfer of n bytes that starts now must end.
func transferDeadline(timeout time.Duration, minRate, n int64) time.Time {
	return time.Now().Add(timeout + time.Duration(n/minRate)*time.Second)
}

// pace moves a transfer's bytes under a deadline that follows its
// progress: the n-th byte must have moved by start + grace + n/rate, and
// never later than end, the deadline of the whole transfer. A peer that
// sends (or takes) nothing is cut off after grace, and one that falls
// behind rate soon after, instead of holding its slot, and for a put the
// space reserved for the shard, until the whole transfer's deadline, which
// for a shard of 2 GiB at 1 MiB/s is more than half an hour away.
type pace struct {
	st    dsn.Stream
	start time.Time
	grace time.Duration
	rate  int64
	end   time.Time
	moved int64
	armed time.Time // the deadline last set
}

func newPace(st dsn.Stream, grace time.Duration, rate int64, end time.Time) *pace {
	return &pace{st: st, start: time.Now(), grace: grace, rate: rate, end: end}
}

// rearmEvery is how far the progress deadline must have moved before it
// is set again (or a quarter of the grace, if less): setting it arms a
// timer, which at gigabytes per second and a call per buffer would cost
// more than it is worth. The deadline in force is at most this much
// earlier than the exact one.
const rearmEvery = time.Second

func (p *pace) arm() {
	d := p.start.Add(p.grace + time.Duration(float64(p.moved)/float64(p.rate)*float64(time.Second)))
	if d.After(p.end) {
		d = p.end
	}
	if p.armed.IsZero() || d.Sub(p.armed) >= min(rearmEvery, p.grace/4) {
		_ = p.st.SetDeadline(d)
		p.armed = d
	}
}

func (p *pace) Read(b []byte) (int, error) {
	p.arm()
	n, err := p.st.Read(b)
	p.moved += int64(n)
	return n, err
}

func (p *pace) Write(b []byte) (int, error) {
	p.arm()
	n, err := p.st.Write(b)
	p.moved += int64(n)
	return n, err
}

// finish ends a stream after a reply. Close rather than Reset: the reply
// must reach the client, and closing the read side stops the client's
// writes (a reset would drop the reply).
func finish(st dsn.Stream) { _ = st.Close() }

type senderKey struct{}

// Sender returns the peer that sent the shard a store's ReceiveShard is
// called for, when the call comes from a Server, so that a provider can
// remember who stored what (for instance, to take proof material only
// from the shard's owner).
func Sender(ctx context.Context) (dsn.PeerID, bool) {
	p, ok := ctx.Value(senderKey{}).(dsn.PeerID)
	return p, ok
}

func (s *Server) handlePut(st dsn.Stream) {
	_ = st.SetDeadline(time.Now().Add(s.opts.Timeout))
	peer := st.RemotePeer()
	if r := s.slots.Acquire(peer); r != slots.Granted {
		s.busy.Add(1)
		_ = writeFrame(st, putResult{code: CodeBusy, text: r.Text("transfers")})
		finish(st)
		return
	}
	defer s.slots.Release(peer)

	var buf [MaxFrameSize]byte
	body, err := readFrame(st, buf[:])
	var req putRequest
	if err == nil {
		req, err = decodePutRequest(body)
	}
	if err != nil {
		s.putErrors.Add(1)
		if errors.Is(err, ErrMalformed) {
			s.badRequests.Add(1)
			s.log.Warn("bad put request", "peer", st.RemotePeer(), "err", err)
			_ = writeFrame(st, putResult{code: CodeBadRequest, text: replyText(CodeBadRequest, err)})
			finish(st)
			return
		}
		s.log.Debug("put: reading request", "peer", st.RemotePeer(), "err", err)
		_ = st.Reset()
		return
	}
	if req.size > dsn.MaxShardSize {
		// Refuse before reading a byte of the shard.
		s.putErrors.Add(1)
		err := fmt.Errorf("size %d over the limit of %d", req.size, int64(dsn.MaxShardSize))
		_ = writeFrame(st, putResult{code: CodeSizeMismatch, text: err.Error()})
		finish(st)
		return
	}

	dl := transferDeadline(s.opts.Timeout, s.opts.MinRate, req.size)
	ctx, cancel := context.WithDeadline(context.WithValue(context.Background(), senderKey{}, st.RemotePeer()), dl)
	defer cancel()
	in := &countingReader{r: io.LimitReader(newPace(st, s.opts.Timeout, s.opts.MinRate, dl), req.size)}
	err = s.store.ReceiveShard(ctx, req.id, req.size, in)
	s.bytesIn.Add(in.n)
	// The reply gets its own time: the last progress deadline may be
	// close, and the store's syncs come after the last byte.
	_ = st.SetDeadline(time.Now().Add(s.opts.Timeout))
	code := errCode(err)
	if err != nil {
		s.putErrors.Add(1)
		s.log.Info("put failed", "peer", st.RemotePeer(), "shard", req.id.Short(), "size", req.size, "code", code, "err", err)
	}
	// A put is counted before its reply, so that Stats includes it once
	// the client has heard OK, and uncounted if the reply cannot be sent.
	if err == nil {
		s.puts.Add(1)
	}
	if werr := writeFrame(st, putResult{code: code, text: replyText(code, err)}); werr != nil {
		if err == nil {
			s.puts.Add(-1)
			s.putErrors.Add(1)
		}
		_ = st.Reset()
		return
	}
	finish(st)
}

func (s *Server) handleGet(st dsn.Stream) {
	_ = st.SetDeadline(time.Now().Add(s.opts.Timeout))
	peer := st.RemotePeer()
	if r := s.slots.Acquire(peer); r != slots.Granted {
		s.busy.Add(1)
		_ = writeFrame(st, getResponse{code: CodeBusy, text: r.Text("transfers")})
		finish(st)
		return
	}
	defer s.slots.Release(peer)

	fail := func(code Code, err error) {
		s.getErrors.Add(1)
		_ = writeFrame(st, getResponse{code: code, text: replyText(code, err)})
		finish(st)
	}
	var buf [MaxFrameSize]byte
	body, err := readFrame(st, buf[:])
	var req getRequest
	if err == nil {
		req, err = decodeGetRequest(body)
	}
	if err == nil && (req.length < -1 || req.off > dsn.MaxShardSize || req.length > dsn.MaxShardSize) {
		err = fmt.Errorf("%w: range [%d, +%d) out of bounds", ErrMalformed, req.off, req.length)
	}
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			s.badRequests.Add(1)
			s.log.Warn("bad get request", "peer", st.RemotePeer(), "err", err)
			fail(CodeBadRequest, err)
			return
		}
		s.getErrors.Add(1)
		s.log.Debug("get: reading request", "peer", st.RemotePeer(), "err", err)
		_ = st.Reset()
		return
	}

	ctx, cancel := context.WithDeadline(context.Background(), transferDeadline(s.opts.Timeout, s.opts.MinRate, dsn.MaxShardSize))
	defer cancel()
	rc, size, err := s.store.FetchShard(ctx, req.id, req.off, req.length)
	if err != nil {
		code := errCode(err)
		if code == CodeInternal {
			s.log.Warn("get failed", "peer", st.RemotePeer(), "shard", req.id.Short(), "err", err)
		}
		fail(code, err)
		return
	}
	defer rc.Close()
	n := req.length
	if n < 0 {
		n = size - req.off
	}
	if size < 0 || size > dsn.MaxShardSize || n < 0 || req.off+n > size {
		s.log.Error("store returned an impossible range", "shard", req.id.Short(), "off", req.off, "length", req.length, "size", size)
		fail(CodeInternal, nil)
		return
	}
	paced := newPace(st, s.opts.Timeout, s.opts.MinRate, transferDeadline(s.opts.Timeout, s.opts.MinRate, n))
	paced.arm()
	if err := writeFrame(st, getResponse{code: CodeOK, size: size, length: n}); err != nil {
		s.getErrors.Add(1)
		_ = st.Reset()
		return
	}
	// Bytes and the get are counted before they are written, and the
	// unsent part taken back on failure, so that Stats includes a get once
	// the client has read it all.
	s.gets.Add(1)
	out := &countingWriter{w: paced, n: &s.bytesOut}
	bp := copyBufs.Get().(*[]byte)
	sent, err := io.CopyBuffer(out, io.LimitReader(rc, n), *bp)
	copyBufs.Put(bp)
	if err == nil && sent < n {
		err = fmt.Errorf("store gave %d of %d bytes: %w", sent, n, io.ErrUnexpectedEOF)
	}
	if err != nil {
		// The client must see a broken stream, never a clean end after
		// fewer bytes than the header promised.
		s.gets.Add(-1)
		s.getErrors.Add(1)
		s.log.Info("get broken off", "peer", st.RemotePeer(), "shard", req.id.Short(), "sent", sent, "of", n, "err", err)
		_ = st.Reset()
		return
	}
	finish(st)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// countingWriter adds each write's length to n before making it, and takes
// back what did not go out.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	n, err := c.w.Write(p)
	c.n.Add(int64(n - len(p)))
	return n, err
}
