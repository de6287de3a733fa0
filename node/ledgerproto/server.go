package ledgerproto

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/slots"
	"github.com/dsn-project/dsn/ledger"
)

// Defaults for ServerOptions.
const (
	// DefaultMaxConcurrent bounds the requests a server handles at once.
	// Each holds at most a few KiB; the bound is on the handler's work
	// (signature checks, synced appends) more than on memory.
	DefaultMaxConcurrent = 32
	// DefaultTimeout bounds a whole exchange on either side: reading the
	// request, the handler's work and writing the reply.
	DefaultTimeout = 10 * time.Second
)

// Handler is the node's ledger, as the protocol sees it. The server has
// decoded and bounds-checked every entry before a Handler sees it (and
// checked its kind fits the request), but has checked nothing else: the
// Handler checks that from is the party who must sign, the signatures,
// and the ledger's rules. Its errors go back to the peer as codes (see
// doc.go): return the ledger's sentinels, or wrap ErrRefused to refuse
// for a reason of the node's own; any other error is Internal and its
// text is not sent.
type Handler interface {
	// ProposeDeal countersigns a deal the remote proposes (the remote must
	// be the deal's client) and returns it signed by both.
	ProposeDeal(ctx context.Context, from dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error)
	// Submit appends an entry the remote signed for this node: a Receipt
	// (remote = client), Credit or Penalty (remote = auditor), or End
	// (remote = its signer, the deal's client or an auditor).
	Submit(ctx context.Context, from dsn.PeerID, e ledger.Entry) error
	// Checkpoint returns this node's latest signed checkpoint (note
	// bytes).
	Checkpoint(ctx context.Context) ([]byte, error)
	// ProveConsistency returns the tree proof between two sizes of this
	// node's log.
	ProveConsistency(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error)
	// ProveInclusion returns the inclusion proof of entry i.
	ProveInclusion(ctx context.Context, i int64) (*ledger.InclusionProof, error)
}

// ServerOptions configures a Server. Zero values mean the defaults.
type ServerOptions struct {
	// MaxConcurrent bounds the requests served at once; requests beyond it
	// are answered Busy without being read.
	MaxConcurrent int
	// MaxPerPeer bounds the requests served at once for any one peer, so
	// that a peer that opens streams and stalls cannot take every slot;
	// 0 means slots.DefaultPerPeer(MaxConcurrent).
	MaxPerPeer int
	// Timeout bounds each stream, from its opening to the reply; the
	// Handler's ctx ends at nine tenths of it, leaving the rest to send
	// the reply.
	Timeout time.Duration
	// Logger receives one line per failed request; nil discards.
	Logger *slog.Logger
}

// Server answers Protocol from a Handler. It is safe for concurrent use;
// register it on any number of transports.
type Server struct {
	h     Handler
	opts  ServerOptions
	log   *slog.Logger
	slots *slots.Limiter[dsn.PeerID]

	deals, entries, checkpoints, consistency, inclusion atomic.Int64
	errs, badRequests, busy                             atomic.Int64
}

// Stats are a Server's counters since it was made.
type Stats struct {
	DealsSigned       int64 // ProposeDeal answered OK
	EntriesAccepted   int64 // Submit answered OK
	Checkpoints       int64 // GetCheckpoint answered OK
	ConsistencyProofs int64 // ProveConsistency answered OK
	InclusionProofs   int64 // ProveInclusion answered OK
	Errors            int64 // requests answered with an error code or broken off
	BadRequests       int64 // malformed requests (also counted in Errors)
	Busy              int64 // requests turned away at MaxConcurrent or MaxPerPeer (not in Errors)
}

// NewServer returns a Server answering from h.
func NewServer(h Handler, opts ServerOptions) *Server {
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = DefaultMaxConcurrent
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{h: h, opts: opts, log: log, slots: slots.New[dsn.PeerID](opts.MaxConcurrent, opts.MaxPerPeer)}
}

// Register serves Protocol on t.
func (s *Server) Register(t dsn.Transport) { t.SetStreamHandler(Protocol, s.handle) }

// Unregister stops serving Protocol on t, so that a log about to close is
// not asked for more.
func (s *Server) Unregister(t dsn.Transport) { t.RemoveStreamHandler(Protocol) }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		DealsSigned:       s.deals.Load(),
		EntriesAccepted:   s.entries.Load(),
		Checkpoints:       s.checkpoints.Load(),
		ConsistencyProofs: s.consistency.Load(),
		InclusionProofs:   s.inclusion.Load(),
		Errors:            s.errs.Load(),
		BadRequests:       s.badRequests.Load(),
		Busy:              s.busy.Load(),
	}
}

// errCode maps an error met while serving to the code that tells the peer
// about it. The order matters where an error wraps two sentinels.
func errCode(err error) Code {
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, ErrMalformed), errors.Is(err, ledger.ErrMalformed),
		errors.Is(err, ledger.ErrTooLarge), errors.Is(err, ledger.ErrVersion):
		return CodeBadRequest
	case errors.Is(err, ledger.ErrBadSignature), errors.Is(err, ledger.ErrWrongKey):
		return CodeBadSignature
	case errors.Is(err, ledger.ErrNoDeal):
		return CodeNoDeal
	case errors.Is(err, ledger.ErrDuplicateOutcome):
		return CodeDuplicate
	case errors.Is(err, ledger.ErrSequence):
		return CodeSequence
	case errors.Is(err, ledger.ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ledger.ErrDealOverlap):
		return CodeDealOverlap
	case errors.Is(err, ledger.ErrSelfDealing):
		return CodeSelfDealing
	case errors.Is(err, ledger.ErrNotParty):
		return CodeNotParty
	case errors.Is(err, ledger.ErrNotAuditor):
		return CodeNotAuditor
	case errors.Is(err, ledger.ErrTerms):
		return CodeTerms
	case errors.Is(err, ledger.ErrBytesDecreased):
		return CodeBytesDecreased
	case errors.Is(err, ledger.ErrSessionMismatch):
		return CodeSessionMismatch
	case errors.Is(err, ledger.ErrDealEnded):
		return CodeDealEnded
	case errors.Is(err, ledger.ErrClosed):
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

// replyTime bounds writing a reply once the handler has returned: a
// frame of at most a few KiB.
const replyTime = 2 * time.Second

func (s *Server) handle(st dsn.Stream) {
	dl := time.Now().Add(s.opts.Timeout)
	_ = st.SetDeadline(dl)
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
			s.fail(st, "request", err)
			return
		}
		s.errs.Add(1)
		s.log.Debug("ledger: reading request", "peer", st.RemotePeer(), "err", err)
		_ = st.Reset()
		return
	}
	// The handler's time ends a tenth of the Timeout before the stream's,
	// so that a handler that runs out of time can still be answered
	// Timeout rather than leaving the peer to its own deadline.
	ctx, cancel := context.WithDeadline(context.Background(), dl.Add(-s.opts.Timeout/10))
	defer cancel()
	from := st.RemotePeer()
	var (
		payload []byte
		what    string
		count   *atomic.Int64
	)
	switch req := req.(type) {
	case entryRequest:
		if req.typ == typeProposeDeal {
			what, count = "propose deal", &s.deals
			payload, err = s.proposeDeal(ctx, from, req.entry)
		} else {
			what, count = "submit", &s.entries
			err = s.submit(ctx, from, req.entry)
		}
	case checkpointRequest:
		what, count = "checkpoint", &s.checkpoints
		payload, err = s.checkpoint(ctx)
	case consistencyRequest:
		what, count = "prove consistency", &s.consistency
		payload, err = s.proveConsistency(ctx, req.oldSize, req.newSize)
	case inclusionRequest:
		what, count = "prove inclusion", &s.inclusion
		payload, err = s.proveInclusion(ctx, req.index)
	}
	// The reply has its own short bound from here: a handler that used
	// its whole time must still be able to say so, however loaded the
	// machine is, and the tenth of the Timeout left may be too little.
	_ = st.SetDeadline(time.Now().Add(replyTime))
	if err != nil {
		s.fail(st, what, err)
		return
	}
	if err := writeFrame(st, reply{code: CodeOK, payload: payload}); err != nil {
		s.errs.Add(1)
		s.log.Debug("ledger: writing reply", "peer", from, "request", what, "err", err)
		_ = st.Reset()
		return
	}
	count.Add(1)
	finish(st)
}

// fail answers a request with the code of err.
func (s *Server) fail(st dsn.Stream, what string, err error) {
	s.errs.Add(1)
	code := errCode(err)
	switch code {
	case CodeInternal:
		s.log.Warn("ledger: "+what+" failed", "peer", st.RemotePeer(), "err", err)
	case CodeBadRequest:
		s.badRequests.Add(1)
		s.log.Warn("ledger: bad "+what, "peer", st.RemotePeer(), "err", err)
	default:
		s.log.Info("ledger: "+what+" answered "+code.String(), "peer", st.RemotePeer(), "err", err)
	}
	_ = writeFrame(st, reply{code: code, text: replyText(code, err)})
	finish(st)
}

// decodeKind decodes an entry and checks it is one of kinds.
func decodeKind(b []byte, kinds ...ledger.Kind) (ledger.Entry, error) {
	e, err := ledger.DecodeEntry(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	for _, k := range kinds {
		if e.Kind() == k {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%w: a %s where a %v is expected", ErrMalformed, e.Kind(), kinds)
}

func (s *Server) proposeDeal(ctx context.Context, from dsn.PeerID, b []byte) ([]byte, error) {
	e, err := decodeKind(b, ledger.KindDeal)
	if err != nil {
		return nil, err
	}
	d, err := s.h.ProposeDeal(ctx, from, e.(*ledger.Deal))
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errors.New("handler returned no deal")
	}
	out, err := ledger.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode countersigned deal: %w", internal(err))
	}
	return out, nil
}

func (s *Server) submit(ctx context.Context, from dsn.PeerID, b []byte) error {
	e, err := decodeKind(b, ledger.KindReceipt, ledger.KindCredit, ledger.KindPenalty, ledger.KindEnd)
	if err != nil {
		return err
	}
	return s.h.Submit(ctx, from, e)
}

func (s *Server) checkpoint(ctx context.Context) ([]byte, error) {
	b, err := s.h.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > ledger.MaxCheckpointSize {
		return nil, fmt.Errorf("handler returned a checkpoint of %d bytes, want 1 to %d", len(b), ledger.MaxCheckpointSize)
	}
	return b, nil
}

func (s *Server) proveConsistency(ctx context.Context, oldSize, newSize int64) ([]byte, error) {
	p, err := s.h.ProveConsistency(ctx, oldSize, newSize)
	if err != nil {
		return nil, err
	}
	b, err := ledger.EncodeTreeProof(p)
	if err != nil {
		return nil, internal(err)
	}
	return b, nil
}

func (s *Server) proveInclusion(ctx context.Context, i int64) ([]byte, error) {
	p, err := s.h.ProveInclusion(ctx, i)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, errors.New("handler returned no proof")
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, internal(err)
	}
	return b, nil
}

// internal hides the sentinels of an error the server met encoding the
// handler's own answer: a deal or proof the handler got wrong is the
// server's fault, not a bad request.
func internal(err error) error { return errors.New(err.Error()) }
