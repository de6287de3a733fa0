package auditproto

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/slots"
	"github.com/dsn-project/dsn/node/shardstore"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// Defaults for ServerOptions.
const (
	// DefaultMaxConcurrent bounds the requests a server handles at once. A
	// request may hold a tag file of up to 11 MB in memory, so the default
	// keeps that below 200 MB.
	DefaultMaxConcurrent = 16
	// DefaultTimeout bounds reading a request, and is the server's slack
	// on top of a challenge's Budget.
	DefaultTimeout = 10 * time.Second
	// DefaultMinRate is the slowest rate, bytes/s, at which a PutTags body
	// may arrive before the server gives up.
	DefaultMinRate = 256 << 10
)

// Sidecar names. A sidecar name is at most shardstore.MaxSidecarName bytes.
const (
	// OutboardSidecar holds a shard's Merkle outboard (merkle.Outboard's
	// encoding), built once from the shard's bytes.
	OutboardSidecar = "merkle/outboard"
	// tagsSidecarPrefix starts the name of an owner's compact tags.
	tagsSidecarPrefix = "compact/"
)

// TagsSidecar is the sidecar name under which a provider keeps the compact
// tags that owner gave it: "compact/" and the first 16 bytes of the
// BLAKE3-256 hash of the owner's peer ID, in hex (40 bytes). Peer IDs may
// be longer than a sidecar name allows; 128 bits keep owners apart, since
// taking another owner's name means finding a second preimage.
func TagsSidecar(owner dsn.PeerID) string {
	h := blake3.Sum256([]byte(owner))
	return tagsSidecarPrefix + hex.EncodeToString(h[:16])
}

// Holder is what a Server proves from: a provider's shard store with
// sidecars. *shardstore.Store satisfies it.
type Holder interface {
	// OpenShard opens a held shard for random reads and returns its size,
	// or dsn.ErrShardNotFound.
	OpenShard(ctx context.Context, id dsn.ShardID) (shardstore.ShardFile, int64, error)
	// PutSidecar keeps b as the sidecar name of held shard id.
	PutSidecar(ctx context.Context, id dsn.ShardID, name string, b []byte) error
	// Sidecar returns the sidecar name of held shard id, or
	// shardstore.ErrSidecarNotFound.
	Sidecar(ctx context.Context, id dsn.ShardID, name string) ([]byte, error)
}

// ServerOptions configures a Server. Zero values mean the defaults.
type ServerOptions struct {
	// MaxConcurrent bounds the requests served at once; requests beyond it
	// are answered Busy at once.
	MaxConcurrent int
	// MaxPerPeer bounds the requests served at once for any one peer, so
	// that a peer that opens streams and stalls cannot take every slot;
	// 0 means slots.DefaultPerPeer(MaxConcurrent).
	MaxPerPeer int
	// Timeout bounds reading a request, and is added to a challenge's
	// Budget (and to a PutTags body's time at MinRate) for the rest.
	Timeout time.Duration
	// MinRate is the slowest rate, bytes/s, a PutTags body may arrive at.
	MinRate int64
	// Budget scales the server's deadline for a challenge, as the
	// auditor's. Zero fields are the defaults.
	Budget Budget
	// AcceptTags, if set, decides whether owner may store tags for shard
	// id (for instance: only the peer that stored the shard). A non-nil
	// error is sent back as Refused. Nil accepts every peer's tags.
	AcceptTags func(ctx context.Context, owner dsn.PeerID, id dsn.ShardID) error
	// Logger receives one line per failed request; nil discards.
	Logger *slog.Logger
}

// Server answers Protocol from a Holder: it stores owners' compact tags
// and proves Merkle and compact challenges. It is safe for concurrent use;
// register it on any number of transports.
type Server struct {
	h     Holder
	opts  ServerOptions
	log   *slog.Logger
	slots *slots.Limiter[dsn.PeerID]

	mu     sync.Mutex
	builds map[dsn.ShardID]*outboardBuild

	tagsStored, tagErrors, merkleProofs, compactProofs atomic.Int64
	challengeErrors, badRequests, busy, outboardsBuilt atomic.Int64
	tagBytesIn, proofBytesOut                          atomic.Int64
}

// outboardBuild is one outboard being built; others asking for the same
// shard wait for it instead of reading the shard again.
type outboardBuild struct {
	done chan struct{}
	ob   *merkle.Outboard
	err  error
}

// Stats are a Server's counters since it was made.
type Stats struct {
	TagsStored      int64 // PutTags answered OK
	TagErrors       int64 // PutTags answered with an error code or broken off
	MerkleProofs    int64 // Merkle proofs sent in full
	CompactProofs   int64 // compact proofs sent in full
	ChallengeErrors int64 // challenges answered with an error code or broken off
	BadRequests     int64 // malformed requests or tags (also counted as errors of their kind)
	Busy            int64 // requests turned away at MaxConcurrent or MaxPerPeer
	OutboardsBuilt  int64 // outboards built from a shard's bytes and stored
	TagBytesIn      int64 // tag bytes read from owners
	ProofBytesOut   int64 // proof bytes written to auditors
}

// NewServer returns a Server proving from h.
func NewServer(h Holder, opts ServerOptions) *Server {
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
	return &Server{h: h, opts: opts, log: log, slots: slots.New[dsn.PeerID](opts.MaxConcurrent, opts.MaxPerPeer), builds: make(map[dsn.ShardID]*outboardBuild)}
}

// Register serves Protocol on t.
func (s *Server) Register(t dsn.Transport) { t.SetStreamHandler(Protocol, s.handle) }

// Unregister stops serving Protocol on t, so that a store about to close
// is not asked for more.
func (s *Server) Unregister(t dsn.Transport) { t.RemoveStreamHandler(Protocol) }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		TagsStored:      s.tagsStored.Load(),
		TagErrors:       s.tagErrors.Load(),
		MerkleProofs:    s.merkleProofs.Load(),
		CompactProofs:   s.compactProofs.Load(),
		ChallengeErrors: s.challengeErrors.Load(),
		BadRequests:     s.badRequests.Load(),
		Busy:            s.busy.Load(),
		OutboardsBuilt:  s.outboardsBuilt.Load(),
		TagBytesIn:      s.tagBytesIn.Load(),
		ProofBytesOut:   s.proofBytesOut.Load(),
	}
}

// Prepare builds and stores the Merkle outboard of held shard id if it has
// none, so that the first challenge of the shard does not have to read it
// whole (which the auditor's deadline does not allow for). A provider calls
// it after accepting a shard.
func (s *Server) Prepare(ctx context.Context, id dsn.ShardID) error {
	f, size, err := s.h.OpenShard(ctx, id)
	if err != nil {
		return fmt.Errorf("prepare outboard of %s: %w", id.Short(), err)
	}
	defer f.Close()
	if _, err := s.outboard(ctx, id, f, size); err != nil {
		return fmt.Errorf("prepare outboard of %s: %w", id.Short(), err)
	}
	return nil
}

// errCode maps an error met while serving to the code that tells the
// peer about it.
func errCode(err error) Code {
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		// First: a read cut off by the deadline is wrapped as a failed
		// read by the provers, which is not the shard's fault.
		return CodeTimeout
	case errors.Is(err, ErrMalformed):
		// Before the tag errors: tags an owner sends malformed are its
		// bad request, while stored tags that fail to decode are missing.
		return CodeBadRequest
	case errors.Is(err, dsn.ErrShardNotFound):
		return CodeNotFound
	case errors.Is(err, dsn.ErrCorruptShard), errors.Is(err, merkle.ErrCorrupt), errors.Is(err, compact.ErrShardData):
		return CodeCorrupt
	case errors.Is(err, ErrNoTags), errors.Is(err, shardstore.ErrSidecarNotFound), errors.Is(err, compact.ErrMalformedTags):
		return CodeNoTags
	case errors.Is(err, dsn.ErrShardSize):
		return CodeSizeMismatch
	case errors.Is(err, dsn.ErrClosed):
		return CodeUnavailable
	case errors.Is(err, ErrRefused):
		return CodeRefused
	}
	return CodeInternal
}

// finish ends a stream after a reply. Close rather than Reset: the reply
// must reach the peer (a reset drops bytes in flight), and closing our
// read side fails the peer's further writes just as a reset would.
func finish(st dsn.Stream) { _ = st.Close() }

func (s *Server) handle(st dsn.Stream) {
	_ = st.SetDeadline(time.Now().Add(s.opts.Timeout))
	peer := st.RemotePeer()
	if r := s.slots.Acquire(peer); r != slots.Granted {
		s.busy.Add(1)
		_ = writeFrame(st, reply{code: CodeBusy, text: r.Text("requests")})
		finish(st)
		return
	}
	defer s.slots.Release(peer)

	body, err := readFrame(st, MaxRequestSize)
	var req request
	if err == nil {
		req, err = decodeRequest(body)
	}
	if err != nil {
		if errors.Is(err, ErrMalformed) {
			s.badRequests.Add(1)
			s.challengeErrors.Add(1)
			s.log.Warn("bad challenge request", "peer", st.RemotePeer(), "err", err)
			_ = writeFrame(st, reply{code: CodeBadRequest, text: replyText(CodeBadRequest, err)})
			finish(st)
			return
		}
		s.challengeErrors.Add(1)
		s.log.Debug("challenge: reading request", "peer", st.RemotePeer(), "err", err)
		_ = st.Reset()
		return
	}
	switch req := req.(type) {
	case putTagsRequest:
		s.putTags(st, req)
	case merkleRequest:
		s.proveMerkle(st, req)
	case compactRequest:
		s.proveCompact(st, req)
	}
}

// work is a context for the server's own work on a request, ending at the
// stream's deadline, so reads of a shard stop when nobody can receive the
// answer any more.
func work(st dsn.Stream, dl time.Time) (context.Context, context.CancelFunc) {
	_ = st.SetDeadline(dl)
	return context.WithDeadline(context.Background(), dl)
}

func (s *Server) putTags(st dsn.Stream, req putTagsRequest) {
	owner := st.RemotePeer()
	ctx, cancel := work(st, time.Now().Add(s.opts.Timeout+rateTime(req.length, s.opts.MinRate)))
	defer cancel()
	fail := func(err error) {
		s.tagErrors.Add(1)
		code := errCode(err)
		if code == CodeInternal {
			s.log.Warn("put tags failed", "peer", owner, "shard", req.id.Short(), "err", err)
		} else {
			s.log.Info("put tags refused", "peer", owner, "shard", req.id.Short(), "code", code, "err", err)
		}
		if code == CodeBadRequest {
			s.badRequests.Add(1)
		}
		_ = writeFrame(st, reply{code: code, text: replyText(code, err)})
		finish(st)
	}
	// Everything is checked before a byte of the body is read.
	f, size, err := s.h.OpenShard(ctx, req.id)
	if err != nil {
		fail(err)
		return
	}
	_ = f.Close()
	if want := compact.TagsSize(size); req.length != want {
		fail(fmt.Errorf("tags of %d bytes, a %d-byte shard has %d: %w", req.length, size, want, dsn.ErrShardSize))
		return
	}
	if req.length > shardstore.MaxSidecarSize {
		fail(fmt.Errorf("tags of %d bytes exceed the sidecar limit of %d: %w", req.length, shardstore.MaxSidecarSize, dsn.ErrShardSize))
		return
	}
	if s.opts.AcceptTags != nil {
		if err := s.opts.AcceptTags(ctx, owner, req.id); err != nil {
			fail(fmt.Errorf("%w: %w", ErrRefused, err))
			return
		}
	}
	tags := make([]byte, req.length)
	n, err := io.ReadFull(st, tags)
	s.tagBytesIn.Add(int64(n))
	if err != nil {
		s.tagErrors.Add(1)
		s.log.Info("put tags: reading body", "peer", owner, "shard", req.id.Short(), "read", n, "of", req.length, "err", err)
		_ = st.Reset()
		return
	}
	if _, err := compact.DecodeTags(tags, size); err != nil {
		fail(fmt.Errorf("%w: %w", ErrMalformed, err))
		return
	}
	if err := s.h.PutSidecar(ctx, req.id, TagsSidecar(owner), tags); err != nil {
		fail(err)
		return
	}
	// Counted before the reply, so that Stats includes it once the owner
	// has heard OK.
	s.tagsStored.Add(1)
	if err := writeFrame(st, reply{code: CodeOK}); err != nil {
		s.tagsStored.Add(-1)
		s.tagErrors.Add(1)
		_ = st.Reset()
		return
	}
	finish(st)
}

// failChallenge answers a challenge with the code of err.
func (s *Server) failChallenge(st dsn.Stream, kind string, err error) {
	s.challengeErrors.Add(1)
	code := errCode(err)
	switch code {
	case CodeInternal:
		s.log.Warn(kind+" challenge failed", "peer", st.RemotePeer(), "err", err)
	case CodeBadRequest:
		s.badRequests.Add(1)
		fallthrough
	default:
		s.log.Info(kind+" challenge answered "+code.String(), "peer", st.RemotePeer(), "err", err)
	}
	_ = writeFrame(st, reply{code: code, text: replyText(code, err)})
	finish(st)
}

// sendProof sends an OK reply and the proof, then ends the stream. The
// proof is counted in sent before it is written, and uncounted if the write
// fails, so that Stats already includes it when the auditor has read it.
func (s *Server) sendProof(st dsn.Stream, proof []byte, sent *atomic.Int64) {
	sent.Add(1)
	s.proofBytesOut.Add(int64(len(proof)))
	if err := writeFrame(st, reply{code: CodeOK, length: int64(len(proof))}); err != nil {
		s.unsend(st, int64(len(proof)), sent)
		return
	}
	if n, err := st.Write(proof); err != nil {
		s.unsend(st, int64(len(proof)-n), sent)
		return
	}
	finish(st)
}

// unsend takes back the count of a proof whose write failed, leaving the
// bytes that did go out counted, and resets the stream.
func (s *Server) unsend(st dsn.Stream, unwritten int64, sent *atomic.Int64) {
	sent.Add(-1)
	s.proofBytesOut.Add(-unwritten)
	s.challengeErrors.Add(1)
	_ = st.Reset()
}

func (s *Server) proveMerkle(st dsn.Stream, req merkleRequest) {
	start := time.Now()
	octx, ocancel := context.WithDeadline(context.Background(), start.Add(s.opts.Timeout))
	f, size, err := s.h.OpenShard(octx, req.id)
	ocancel()
	if err != nil {
		s.failChallenge(st, "merkle", err)
		return
	}
	defer f.Close()
	if size == 0 {
		s.failChallenge(st, "merkle", fmt.Errorf("%w: shard %s is empty and cannot be challenged", ErrMalformed, req.id.Short()))
		return
	}
	// The outboard may have to be built from the whole shard: the server
	// allows for that, though the auditor does not.
	ctx, cancel := work(st, start.Add(s.opts.Timeout+s.opts.Budget.Merkle(size, req.c)+rateTime(size, s.opts.Budget.withDefaults().ReadRate)))
	defer cancel()
	ob, err := s.outboard(ctx, req.id, f, size)
	if err != nil {
		s.failChallenge(st, "merkle", err)
		return
	}
	p, err := merkle.Prove(req.seed, req.c, req.id, ctxReaderAt{ctx, f}, size, ob)
	if err != nil {
		s.failChallenge(st, "merkle", err)
		return
	}
	b, err := p.MarshalBinary()
	if err != nil {
		s.failChallenge(st, "merkle", err)
		return
	}
	s.sendProof(st, b, &s.merkleProofs)
}

// outboard returns shard id's outboard: the stored one, or one built from
// the shard's bytes and stored, after checking that it names id. A stored
// outboard that does not decode or does not fit the shard is rebuilt.
func (s *Server) outboard(ctx context.Context, id dsn.ShardID, f io.ReaderAt, size int64) (*merkle.Outboard, error) {
	b, err := s.h.Sidecar(ctx, id, OutboardSidecar)
	if err == nil {
		ob, derr := merkle.UnmarshalOutboard(b)
		if derr == nil && ob.Root() == id && ob.Size() == size {
			return ob, nil
		}
		s.log.Warn("stored outboard unusable; rebuilding", "shard", id.Short(), "err", derr)
	} else if !errors.Is(err, shardstore.ErrSidecarNotFound) {
		return nil, err
	}

	s.mu.Lock()
	if b := s.builds[id]; b != nil {
		s.mu.Unlock()
		select {
		case <-b.done:
			return b.ob, b.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	build := &outboardBuild{done: make(chan struct{})}
	s.builds[id] = build
	s.mu.Unlock()
	build.ob, build.err = s.buildOutboard(ctx, id, f, size)
	s.mu.Lock()
	delete(s.builds, id)
	s.mu.Unlock()
	close(build.done)
	return build.ob, build.err
}

func (s *Server) buildOutboard(ctx context.Context, id dsn.ShardID, f io.ReaderAt, size int64) (*merkle.Outboard, error) {
	w := merkle.NewOutboardWriter()
	buf := make([]byte, 1<<20)
	if _, err := io.CopyBuffer(w, io.NewSectionReader(ctxReaderAt{ctx, f}, 0, size), buf); err != nil {
		return nil, fmt.Errorf("build outboard of %s: %w", id.Short(), err)
	}
	ob := w.Sum()
	if ob.Size() != size {
		return nil, fmt.Errorf("build outboard of %s: read %d of %d bytes: %w", id.Short(), ob.Size(), size, dsn.ErrCorruptShard)
	}
	if ob.Root() != id {
		return nil, fmt.Errorf("build outboard of %s: the held bytes hash to %s: %w", id.Short(), ob.Root().Short(), dsn.ErrCorruptShard)
	}
	b, err := ob.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("build outboard of %s: %w", id.Short(), err)
	}
	if err := s.h.PutSidecar(ctx, id, OutboardSidecar, b); err != nil {
		return nil, fmt.Errorf("build outboard of %s: %w", id.Short(), err)
	}
	s.outboardsBuilt.Add(1)
	return ob, nil
}

func (s *Server) proveCompact(st dsn.Stream, req compactRequest) {
	owner := st.RemotePeer()
	ch, err := compact.NewChallenge(req.seed, req.c, req.targets)
	if err != nil {
		s.failChallenge(st, "compact", fmt.Errorf("%w: %w", ErrMalformed, err))
		return
	}
	ctx, cancel := work(st, time.Now().Add(s.opts.Timeout+s.opts.Budget.Compact(req.targets, req.c)))
	defer cancel()
	name := TagsSidecar(owner)
	pr := compact.NewProver(ch)
	for i, t := range req.targets {
		if err := s.addTarget(ctx, pr, i, t, name); err != nil {
			s.failChallenge(st, "compact", err)
			return
		}
	}
	p, err := pr.Proof()
	if err != nil {
		s.failChallenge(st, "compact", err)
		return
	}
	s.sendProof(st, p.Encode(), &s.compactProofs)
}

// addTarget folds target i into the proof: the shard must be held at the
// size the owner states, and the owner's tags must be there.
func (s *Server) addTarget(ctx context.Context, pr *compact.Prover, i int, t compact.Target, name string) error {
	tags, err := s.h.Sidecar(ctx, t.ID, name)
	if errors.Is(err, shardstore.ErrSidecarNotFound) {
		return fmt.Errorf("shard %s: %w", t.ID.Short(), ErrNoTags)
	}
	if err != nil {
		return err
	}
	f, size, err := s.h.OpenShard(ctx, t.ID)
	if err != nil {
		return err
	}
	defer f.Close()
	if size != t.Size {
		return fmt.Errorf("shard %s holds %d bytes, challenge says %d: %w", t.ID.Short(), size, t.Size, dsn.ErrShardSize)
	}
	if int64(len(tags)) != compact.TagsSize(size) {
		return fmt.Errorf("shard %s: stored tags of %d bytes, want %d: %w", t.ID.Short(), len(tags), compact.TagsSize(size), compact.ErrMalformedTags)
	}
	return pr.Add(i, ctxReaderAt{ctx, f}, bytes.NewReader(tags))
}

// ctxReaderAt stops reading once ctx is done, so a prover's work ends at
// the stream's deadline.
type ctxReaderAt struct {
	ctx context.Context
	r   io.ReaderAt
}

func (c ctxReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.ReadAt(p, off)
}
