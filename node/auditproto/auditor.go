package auditproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zeebo/blake3"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
	"github.com/dsn-project/dsn/proofs/merkle"
)

// Outcome is what an audit says about a provider.
type Outcome int

const (
	// Aborted: the audit did not run to an answer for a reason of the
	// auditor's own (its ctx was cancelled or its deadline came before the
	// budget's, or the challenge is outside the protocol's bounds). It
	// says nothing about the provider; record nothing.
	Aborted Outcome = iota
	// Pass: the provider sent, within the deadline, a proof that verifies.
	Pass
	// Fail: the provider answered, and the answer shows it cannot prove:
	// a proof that does not verify, a malformed or oversized proof, or its
	// own NotFound, Corrupt, NoTags, SizeMismatch, BadRequest or Internal.
	Fail
	// Missed: no answer within the deadline: unreachable, protocol not
	// served, stream reset or ended without a reply, a proof arriving
	// late, or the provider's Busy, Unavailable or Timeout.
	Missed
)

var outcomeNames = [...]string{"Aborted", "Pass", "Fail", "Missed"}

func (o Outcome) String() string {
	if o >= 0 && int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Result is the record of one audit.
type Result struct {
	Outcome Outcome
	// Reason says why the audit did not pass; nil on Pass. It matches this
	// package's sentinels, the dsn ones (dsn.ErrShardNotFound,
	// dsn.ErrCorruptShard, ...) and the proof packages' (merkle.ErrWrongLeaf,
	// compact.ErrInvalidProof, ...) under errors.Is.
	Reason error
	// Latency is from opening the stream to the last proof byte read.
	Latency time.Duration
	// ProofBytes is how many proof bytes were read.
	ProofBytes int
	// Digest is the BLAKE3 hash of the transcript, the challenge's body
	// and the proof, when a proof was read in full: what a ledger credit
	// names as the audit it rests on.
	Digest [32]byte
}

var (
	// ErrProofTooLarge is a Fail reason: the provider announced or sent
	// more proof bytes than the challenge allows.
	ErrProofTooLarge = errors.New("proof larger than the challenge allows")
	// ErrLate is a Missed reason: the proof arrived in full, but after the
	// deadline.
	ErrLate = errors.New("proof arrived after the deadline")
	// ErrNoAnswer is a Missed reason: the stream broke, ended or timed out
	// before the provider's answer was in.
	ErrNoAnswer = errors.New("no answer from the provider")
	// ErrOutOfBounds is an Aborted reason: the challenge the caller asked
	// for is outside the protocol's bounds (MaxMerkleSamples, MaxTargets,
	// MaxPicks) or names an empty shard, so it was not sent.
	ErrOutOfBounds = errors.New("challenge outside the protocol's bounds")
)

// Auditor runs challenges. Its zero value uses the default Budget and the
// real clock.
type Auditor struct {
	// Budget scales each challenge's deadline (zero fields: defaults).
	Budget Budget
	// Now is the clock that times answers; nil is time.Now. Stream
	// deadlines always run on the real clock.
	Now func() time.Time
}

func (a Auditor) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// AuditMerkle runs a Merkle challenge with the zero Auditor: see
// Auditor.Merkle.
func AuditMerkle(ctx context.Context, t dsn.Transport, p dsn.PeerID, id dsn.ShardID, size int64, seed proofs.Seed, c int) Result {
	return Auditor{}.Merkle(ctx, t, p, id, size, seed, c)
}

// AuditCompact runs a compact challenge with the zero Auditor: see
// Auditor.Compact.
func AuditCompact(ctx context.Context, t dsn.Transport, p dsn.PeerID, key *compact.Key, ch *compact.Challenge) Result {
	return Auditor{}.Compact(ctx, t, p, key, ch)
}

// Merkle asks p to prove c samples of shard id (size bytes) under seed and
// checks the answer against id alone: anyone who knows a shard's ID and
// size can audit it. The deadline is a.Budget.Merkle(size, c); the proof
// read is bounded by merkle.MaxProofSize of the leaves the seed selects.
func (a Auditor) Merkle(ctx context.Context, t dsn.Transport, p dsn.PeerID, id dsn.ShardID, size int64, seed proofs.Seed, c int) Result {
	if size < 1 || size > dsn.MaxShardSize || c < 1 || c > MaxMerkleSamples {
		return Result{Outcome: Aborted, Reason: fmt.Errorf("merkle challenge of shard %s: size %d, c = %d: %w", id.Short(), size, c, ErrOutOfBounds)}
	}
	leaves := len(merkle.Indices(seed, id, merkle.Chunks(size), c))
	b, res := a.exchange(ctx, t, p, merkleRequest{id: id, seed: seed, c: c}, a.Budget.Merkle(size, c), merkle.MaxProofSize(leaves), false)
	if b == nil {
		return res
	}
	pr, err := merkle.UnmarshalProof(b, leaves)
	if err == nil {
		err = merkle.Verify(id, size, seed, c, pr)
	}
	if err != nil {
		res.Outcome, res.Reason = Fail, fmt.Errorf("merkle proof of shard %s from %s: %w", id.Short(), p, err)
		return res
	}
	res.Outcome = Pass
	return res
}

// Compact asks p for one proof over every target of ch and verifies it
// with key, the owner's. The provider proves from the tags it keeps for
// the stream's remote peer, that is, from the tags t's own peer gave it
// with PutTags; nobody else's. The deadline is a.Budget.Compact over the
// targets; the proof must be exactly compact.ProofSize bytes.
func (a Auditor) Compact(ctx context.Context, t dsn.Transport, p dsn.PeerID, key *compact.Key, ch *compact.Challenge) Result {
	targets, c := ch.Targets(), ch.C()
	if len(targets) > MaxTargets || c*len(targets) > MaxPicks {
		return Result{Outcome: Aborted, Reason: fmt.Errorf("compact challenge of %d shards, c = %d: %w", len(targets), c, ErrOutOfBounds)}
	}
	req := compactRequest{seed: ch.Seed(), c: c, targets: targets}
	b, res := a.exchange(ctx, t, p, req, a.Budget.Compact(targets, c), compact.ProofSize, true)
	if b == nil {
		return res
	}
	pr, err := compact.DecodeProof(b)
	if err == nil {
		err = key.Verify(ch, pr)
	}
	if err != nil {
		res.Outcome, res.Reason = Fail, fmt.Errorf("compact proof of %d shards from %s: %w", len(targets), p, err)
		return res
	}
	res.Outcome = Pass
	return res
}

// transcriptContext separates transcript digests from every other hash.
const transcriptContext = "dsn 2026-11 challenge transcript v1"

// exchange sends a challenge and reads the proof, at most bound bytes
// (exactly bound if exact). It returns the proof bytes with a Result whose
// Latency and ProofBytes are set, or nil and the final Result.
func (a Auditor) exchange(ctx context.Context, t dsn.Transport, p dsn.PeerID, req message, budget time.Duration, bound int, exact bool) ([]byte, Result) {
	start := a.now()
	dl := time.Now().Add(budget)
	var res Result
	done := func(o Outcome, err error) ([]byte, Result) {
		res.Outcome, res.Reason = o, fmt.Errorf("challenge %s: %w", p, err)
		return nil, res
	}
	// noAnswer decides between Missed and Aborted: the caller's ctx ending
	// before the budget ran out is not the provider's fault.
	noAnswer := func(err error) ([]byte, Result) {
		if cerr := ctx.Err(); cerr != nil && time.Now().Before(dl) {
			return done(Aborted, fmt.Errorf("%w: %w", cerr, err))
		}
		if !errors.Is(err, ErrNoAnswer) {
			err = fmt.Errorf("%w: %w", ErrNoAnswer, err)
		}
		return done(Missed, err)
	}

	octx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	st, err := t.NewStream(octx, p, Protocol)
	if err != nil {
		return noAnswer(err)
	}
	_ = st.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()
	clean := false
	defer func() {
		if clean {
			_ = st.Close()
		} else {
			_ = st.Reset()
		}
	}()

	// A provider that turns the request away answers without reading it,
	// so a failed write is reported only if no answer can be read.
	werr := writeFrame(st, req)
	if werr == nil {
		werr = st.CloseWrite()
	}
	proof, o, err := readAnswer(st, bound, exact)
	res.ProofBytes = len(proof)
	switch {
	case o == Missed && errors.Is(err, ErrNoAnswer):
		if werr != nil {
			err = fmt.Errorf("%w (send challenge: %w)", err, werr)
		}
		return noAnswer(err)
	case o != Pass:
		return done(o, err)
	}
	res.Latency = a.now().Sub(start)
	h := blake3.NewDeriveKey(transcriptContext)
	h.Write(req.append(nil))
	h.Write(proof)
	h.Digest().Read(res.Digest[:])
	if err := checkEnd(st, len(proof)); err != nil {
		return done(Fail, err)
	}
	if res.Latency > budget {
		return done(Missed, fmt.Errorf("%w: %v, allowed %v", ErrLate, res.Latency.Round(time.Millisecond), budget))
	}
	clean = true
	return proof, res
}

// readAnswer reads a provider's answer to a challenge: the reply frame,
// then the proof it announces, at most bound bytes (exactly bound if
// exact), never reading past it. It returns the proof with outcome Pass
// (meaning: a proof to verify), or Fail or Missed with the reason; a
// Missed whose reason is ErrNoAnswer is the stream failing, which the
// caller may attribute to its own ctx instead.
func readAnswer(r io.Reader, bound int, exact bool) ([]byte, Outcome, error) {
	body, err := readFrame(r, MaxReplySize)
	switch {
	case err == nil:
	case errors.Is(err, ErrMalformed), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, Fail, fmt.Errorf("reply: %w: %w", ErrMalformed, err)
	default:
		return nil, Missed, fmt.Errorf("%w: read reply: %w", ErrNoAnswer, err)
	}
	rep, err := decodeReply(body)
	if err != nil {
		return nil, Fail, err
	}
	if rep.code != CodeOK {
		err := remoteError(rep.code, rep.text)
		switch rep.code {
		case CodeBusy, CodeUnavailable, CodeTimeout:
			return nil, Missed, err
		}
		return nil, Fail, err
	}
	// The bound is checked before a proof byte is read.
	if rep.length > int64(bound) {
		return nil, Fail, fmt.Errorf("%w: %d bytes announced, at most %d allowed", ErrProofTooLarge, rep.length, bound)
	}
	if exact && rep.length != int64(bound) {
		return nil, Fail, fmt.Errorf("%w: proof of %d bytes, want %d", ErrMalformed, rep.length, bound)
	}
	if rep.length == 0 {
		return nil, Fail, fmt.Errorf("%w: empty proof", ErrMalformed)
	}
	proof := make([]byte, rep.length)
	n, err := io.ReadFull(r, proof)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return proof[:n], Fail, fmt.Errorf("%w: proof ends after %d of %d bytes", ErrMalformed, n, rep.length)
		}
		return proof[:n], Missed, fmt.Errorf("%w: read proof: %w", ErrNoAnswer, err)
	}
	return proof, Pass, nil
}

// checkEnd reads one byte past an n-byte proof: a provider that sends
// more than it announced fails, and nothing more of it is read.
func checkEnd(r io.Reader, n int) error {
	var one [1]byte
	if k, _ := r.Read(one[:]); k > 0 {
		return fmt.Errorf("%w: more than the %d bytes announced", ErrProofTooLarge, n)
	}
	return nil
}

// PutTags hands p the compact tags of shard id (as compact.Key.Tags or a
// compact.Tagger produced them), for p to keep beside the shard and prove
// from when t's own peer challenges it. p must hold the shard, and tags
// must be exactly compact.TagsSize of its size (dsn.ErrShardSize
// otherwise). ctx bounds the transfer; without a deadline it gets
// DefaultTimeout plus the tags at DefaultMinRate.
func PutTags(ctx context.Context, t dsn.Transport, p dsn.PeerID, id dsn.ShardID, tags []byte) error {
	op := func(err error) error { return fmt.Errorf("put tags of shard %s to %s: %w", id.Short(), p, err) }
	if len(tags) < 1 || len(tags) > MaxTagsSize {
		return op(fmt.Errorf("%d bytes of tags, want 1 to %d: %w", len(tags), MaxTagsSize, dsn.ErrShardSize))
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(DefaultTimeout + rateTime(int64(len(tags)), DefaultMinRate))
	}
	ctx, cancel := context.WithDeadline(ctx, dl)
	defer cancel()
	st, err := t.NewStream(ctx, p, Protocol)
	if err != nil {
		return op(err)
	}
	_ = st.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = st.Reset() })
	defer stop()

	werr := writeFrame(st, putTagsRequest{id: id, length: int64(len(tags))})
	if werr == nil {
		_, werr = io.Copy(st, bytes.NewReader(tags))
	}
	if werr == nil {
		werr = st.CloseWrite()
	}
	// A provider that refuses the tags answers before reading them and
	// stops reading, which fails our writes: its answer says more.
	body, err := readFrame(st, MaxReplySize)
	var rep reply
	if err == nil {
		rep, err = decodeReply(body)
	}
	if err != nil {
		_ = st.Reset()
		if werr != nil {
			err = werr
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return op(err)
	}
	if rep.code != CodeOK {
		_ = st.Reset()
		return op(remoteError(rep.code, rep.text))
	}
	if werr != nil {
		_ = st.Reset()
		return op(werr)
	}
	_ = st.Close()
	return nil
}
