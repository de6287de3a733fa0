package ledgerproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/ledger"
)

// Client makes requests. Its zero value gives every exchange
// DefaultTimeout.
type Client struct {
	// Timeout bounds each exchange, from opening the stream to reading the
	// reply; a ctx deadline that comes sooner wins. Zero is
	// DefaultTimeout.
	Timeout time.Duration
}

// ProposeDeal is Client.ProposeDeal with the zero Client.
func ProposeDeal(ctx context.Context, t dsn.Transport, p dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) {
	return Client{}.ProposeDeal(ctx, t, p, d)
}

// Submit is Client.Submit with the zero Client.
func Submit(ctx context.Context, t dsn.Transport, p dsn.PeerID, e ledger.Entry) error {
	return Client{}.Submit(ctx, t, p, e)
}

// FetchCheckpoint is Client.FetchCheckpoint with the zero Client.
func FetchCheckpoint(ctx context.Context, t dsn.Transport, p dsn.PeerID) ([]byte, error) {
	return Client{}.FetchCheckpoint(ctx, t, p)
}

// FetchConsistency is Client.FetchConsistency with the zero Client.
func FetchConsistency(ctx context.Context, t dsn.Transport, p dsn.PeerID, oldSize, newSize int64) (tlog.TreeProof, error) {
	return Client{}.FetchConsistency(ctx, t, p, oldSize, newSize)
}

// FetchInclusion is Client.FetchInclusion with the zero Client.
func FetchInclusion(ctx context.Context, t dsn.Transport, p dsn.PeerID, i int64) (*ledger.InclusionProof, error) {
	return Client{}.FetchInclusion(ctx, t, p, i)
}

// ProposeDeal sends d, signed by its client (t's own node), to p, its
// provider, and returns the deal p countersigned. It returns the deal only
// if it is d exactly (same terms, same client signature) and carries a
// valid provider signature by d.Provider: ErrDealChanged or
// ledger.ErrBadSignature otherwise.
func (c Client) ProposeDeal(ctx context.Context, t dsn.Transport, p dsn.PeerID, d *ledger.Deal) (*ledger.Deal, error) {
	op := func(err error) error {
		return fmt.Errorf("propose deal for shard %s to %s: %w", d.Shard.Short(), p, err)
	}
	want, err := ledger.Marshal(d)
	if err != nil {
		return nil, op(err)
	}
	payload, err := c.exchange(ctx, t, p, entryRequest{typ: typeProposeDeal, entry: want})
	if err != nil {
		return nil, op(err)
	}
	e, err := ledger.DecodeEntry(payload)
	if err != nil {
		return nil, op(fmt.Errorf("%w: countersigned deal: %w", ErrMalformed, err))
	}
	got, ok := e.(*ledger.Deal)
	if !ok {
		return nil, op(fmt.Errorf("%w: a %s came back for a deal", ErrMalformed, e.Kind()))
	}
	// The returned deal with our provider signature must encode as what
	// we sent: one encoding per entry, so equal bytes are equal terms.
	same := *got
	same.ProviderSig = d.ProviderSig
	if b, err := ledger.Marshal(&same); err != nil || !bytes.Equal(b, want) {
		return nil, op(ErrDealChanged)
	}
	if err := ledger.CheckSignatures(got); err != nil {
		return nil, op(err)
	}
	return got, nil
}

// Submit sends p an entry for its log: a Receipt (t's node the client, p
// the provider), a Credit or a Penalty (t's node the auditor), or an End
// (t's node its signer, the deal's client or an auditor). A nil error
// means p appended it. A refusal matches ErrRefused and the ledger's
// sentinel; ErrDuplicate means p holds it already (or a later receipt).
func (c Client) Submit(ctx context.Context, t dsn.Transport, p dsn.PeerID, e ledger.Entry) error {
	op := func(err error) error { return fmt.Errorf("submit %s to %s: %w", e.Kind(), p, err) }
	switch e.Kind() {
	case ledger.KindReceipt, ledger.KindCredit, ledger.KindPenalty, ledger.KindEnd:
	default:
		return op(errors.New("only receipts, credits, penalties and ends are submitted; deals are proposed"))
	}
	b, err := ledger.Marshal(e)
	if err != nil {
		return op(err)
	}
	if _, err := c.exchange(ctx, t, p, entryRequest{typ: typeSubmit, entry: b}); err != nil {
		return op(err)
	}
	return nil
}

// FetchCheckpoint returns p's latest signed checkpoint, at most
// ledger.MaxCheckpointSize bytes, after checking that it parses and is
// signed by the node it names (ledger.ParseCheckpoint). Whether that node
// is p is the caller's to check, with ledger.VerifyCheckpoint and p's key.
func (c Client) FetchCheckpoint(ctx context.Context, t dsn.Transport, p dsn.PeerID) ([]byte, error) {
	op := func(err error) error { return fmt.Errorf("fetch checkpoint from %s: %w", p, err) }
	b, err := c.exchange(ctx, t, p, checkpointRequest{})
	if err != nil {
		return nil, op(err)
	}
	if _, err := ledger.ParseCheckpoint(b); err != nil {
		return nil, op(fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	return b, nil
}

// FetchConsistency returns p's proof that its log of newSize entries
// extends the one of oldSize, at most ledger.MaxProofHashes hashes. Check
// it with ledger.CheckConsistency against two checkpoints of p.
func (c Client) FetchConsistency(ctx context.Context, t dsn.Transport, p dsn.PeerID, oldSize, newSize int64) (tlog.TreeProof, error) {
	op := func(err error) error {
		return fmt.Errorf("fetch consistency %d..%d from %s: %w", oldSize, newSize, p, err)
	}
	if oldSize < 0 || oldSize > newSize || newSize > MaxIndex {
		return nil, op(fmt.Errorf("sizes out of range: want 0 <= old <= new <= %d", int64(MaxIndex)))
	}
	b, err := c.exchange(ctx, t, p, consistencyRequest{oldSize: oldSize, newSize: newSize})
	if err != nil {
		return nil, op(err)
	}
	proof, err := ledger.DecodeTreeProof(b)
	if err != nil {
		return nil, op(fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	return proof, nil
}

// FetchInclusion returns p's proof that entry i is in its log, at most
// ledger.MaxInclusionProofSize bytes and for index i (ErrWrongEntry
// otherwise). Check it with ledger.CheckInclusion and p's key.
func (c Client) FetchInclusion(ctx context.Context, t dsn.Transport, p dsn.PeerID, i int64) (*ledger.InclusionProof, error) {
	op := func(err error) error { return fmt.Errorf("fetch inclusion of entry %d from %s: %w", i, p, err) }
	if i < 0 || i >= MaxIndex {
		return nil, op(fmt.Errorf("index out of range: want 0 <= i < %d", int64(MaxIndex)))
	}
	b, err := c.exchange(ctx, t, p, inclusionRequest{index: i})
	if err != nil {
		return nil, op(err)
	}
	var proof ledger.InclusionProof
	if err := proof.UnmarshalBinary(b); err != nil {
		return nil, op(fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	if proof.Index != i {
		return nil, op(fmt.Errorf("%w: index %d", ErrWrongEntry, proof.Index))
	}
	return &proof, nil
}

// exchange sends req on a new stream and returns the payload of an OK
// reply, or the error a non-OK reply or a broken stream means. A stream
// that outlives the deadline gives an error matching
// context.DeadlineExceeded.
func (c Client) exchange(ctx context.Context, t dsn.Transport, p dsn.PeerID, req request) ([]byte, error) {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dl, _ := ctx.Deadline()
	st, err := t.NewStream(ctx, p, Protocol)
	if err != nil {
		return nil, err
	}
	_ = st.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()

	// A server that turns the request away answers without reading it, so
	// a failed write is reported only if no answer can be read.
	werr := writeFrame(st, req)
	if werr == nil {
		werr = st.CloseWrite()
	}
	body, err := readFrame(st, replyLimit(req))
	var rep reply
	if err == nil {
		rep, err = decodeReply(body, req.payloadBound())
	}
	if err != nil {
		_ = st.Reset()
		switch {
		case errors.Is(err, ErrMalformed):
		case errors.Is(err, io.ErrUnexpectedEOF):
			err = fmt.Errorf("%w: reply: %w", ErrMalformed, err)
		default:
			if werr != nil {
				err = fmt.Errorf("%w (send request: %w)", err, werr)
			}
			if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
				err = fmt.Errorf("%w: %w", cerr, err)
			} else if !time.Now().Before(dl) && !errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
			}
			err = fmt.Errorf("read reply: %w", err)
		}
		return nil, err
	}
	_ = st.Close()
	if rep.code != CodeOK {
		return nil, remoteError(rep.code, rep.text)
	}
	return rep.payload, nil
}
