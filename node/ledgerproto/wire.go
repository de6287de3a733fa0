package ledgerproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/internal/varint"
	"github.com/dsn-project/dsn/ledger"
)

// Protocol is the ID of the ledger protocol. The version is part of the
// ID: an incompatible change to a message gets a new ID, never a
// reinterpreted field.
const Protocol = "/dsn/ledger/1.0.0"

// Bounds of the protocol. Both sides enforce them: a request beyond them
// is answered BadRequest, a reply beyond them is ErrMalformed.
const (
	// MaxTextSize bounds the error text in a reply, in bytes.
	MaxTextSize = 256
	// MaxIndex bounds a log size or entry index in a request. It is the
	// bound ledger.InclusionProof decoding puts on an index.
	MaxIndex = 1 << 62
	// MaxTreeProofSize bounds an encoded consistency proof: a count and
	// ledger.MaxProofHashes hashes.
	MaxTreeProofSize = 2 + ledger.MaxProofHashes*tlog.HashSize
	// MaxPayloadSize bounds the payload of any reply: the largest is an
	// inclusion proof.
	MaxPayloadSize = ledger.MaxInclusionProofSize
	// MaxRequestSize bounds a request frame's body: a type byte and one
	// entry with its length.
	MaxRequestSize = 1 + binary.MaxVarintLen16 + ledger.MaxEntrySize
	// MaxReplySize bounds a reply frame's body: a type byte, a code, the
	// text and the largest payload, each with its length.
	MaxReplySize = 1 + binary.MaxVarintLen64 + binary.MaxVarintLen16 + MaxTextSize + binary.MaxVarintLen16 + MaxPayloadSize
)

// Message types: the first byte of every frame body, so that a frame of one
// kind is never read as another. The first frame of a stream is a request
// and its type says which.
const (
	typeProposeDeal      = 1
	typeSubmit           = 2
	typeGetCheckpoint    = 3
	typeProveConsistency = 4
	typeProveInclusion   = 5
	typeReply            = 6
)

// Code is a result code carried on the wire. The list is append-only: a
// code's number never changes meaning.
type Code uint64

// Result codes, and the errors a client's call returns for them. See
// doc.go for which handler errors give which code.
const (
	CodeOK              Code = 0
	CodeBadRequest      Code = 1  // malformed or out-of-bounds request: ErrBadRequest
	CodeRefused         Code = 2  // the handler refused, for a reason in the text: ErrRefused
	CodeBadSignature    Code = 3  // a signature does not verify or is by the wrong key: ledger.ErrBadSignature
	CodeNoDeal          Code = 4  // no deal in the remote's log for the entry: ledger.ErrNoDeal
	CodeDuplicate       Code = 5  // the deal already has a credit or penalty for the epoch: ledger.ErrDuplicateOutcome
	CodeNotFound        Code = 6  // no such entry or log size: ledger.ErrNotFound
	CodeBusy            Code = 7  // at the server's concurrency limit: ErrBusy
	CodeInternal        Code = 8  // the server failed for a reason of its own: ErrRemoteInternal
	CodeTimeout         Code = 9  // the server's own deadline passed: ErrRemoteTimeout
	CodeSequence        Code = 10 // a receipt replayed, lowered or reordered: ledger.ErrSequence
	CodeDealOverlap     Code = 11 // the deal overlaps one in the log: ledger.ErrDealOverlap
	CodeSelfDealing     Code = 12 // a party would vouch for itself: ledger.ErrSelfDealing
	CodeNotParty        Code = 13 // the remote is not a party to the entry: ledger.ErrNotParty
	CodeNotAuditor      Code = 14 // the signer is not an auditor of the deal: ledger.ErrNotAuditor
	CodeTerms           Code = 15 // the entry is at odds with its deal: ledger.ErrTerms
	CodeBytesDecreased  Code = 16 // a receipt's bytes went down: ledger.ErrBytesDecreased
	CodeSessionMismatch Code = 17 // a receipt's session belongs to another shard: ledger.ErrSessionMismatch
	CodeUnavailable     Code = 18 // the remote's log is closed: ErrUnavailable
	CodeDealEnded       Code = 19 // the deal has ended: ledger.ErrDealEnded
)

var codeNames = [...]string{"OK", "BadRequest", "Refused", "BadSignature", "NoDeal", "Duplicate", "NotFound", "Busy", "Internal", "Timeout",
	"Sequence", "DealOverlap", "SelfDealing", "NotParty", "NotAuditor", "Terms", "BytesDecreased", "SessionMismatch", "Unavailable", "DealEnded"}

func (c Code) String() string {
	if c < Code(len(codeNames)) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint64(c))
}

var (
	// ErrMalformed is returned when the remote peer sends bytes that break
	// the wire format: an oversized or truncated frame, a non-canonical
	// number, an unknown message type, a field out of bounds, trailing
	// bytes, or a payload that does not decode as what was asked for.
	ErrMalformed = errors.New("malformed ledger protocol message")
	// ErrBadRequest is returned when the remote peer rejected the request
	// as malformed or out of bounds (code BadRequest).
	ErrBadRequest = errors.New("remote rejected the request as malformed")
	// ErrRefused is returned when the remote refused the request for what
	// it is: sending it again will not help. Every refusal code matches
	// it: Refused itself (a Handler returns an error wrapping ErrRefused
	// to refuse with a reason of its own), BadSignature, NoDeal,
	// Duplicate, Sequence and the other ledger rules.
	ErrRefused = errors.New("remote refused")
	// ErrDuplicate is returned, beside the ledger sentinel, when the
	// remote's log already holds the entry or one that supersedes it
	// (codes Duplicate and Sequence). A caller resending after a lost
	// reply may take it as done.
	ErrDuplicate = errors.New("remote already holds the entry or a later one")
	// ErrBusy is returned when the remote is serving as many requests as
	// it allows (code Busy).
	ErrBusy = errors.New("remote busy")
	// ErrRemoteInternal is returned when the remote failed for a reason of
	// its own (code Internal).
	ErrRemoteInternal = errors.New("remote internal error")
	// ErrRemoteTimeout is returned when the remote gave up because its own
	// deadline passed (code Timeout).
	ErrRemoteTimeout = errors.New("remote timed out")
	// ErrUnavailable is returned when the remote's log is closed (code
	// Unavailable).
	ErrUnavailable = errors.New("remote ledger unavailable")
	// ErrUnknownCode is returned for a reply code this version does not
	// know.
	ErrUnknownCode = errors.New("unknown result code")
	// ErrDealChanged is returned by ProposeDeal when the deal that comes
	// back is not the one proposed: other terms, or another client
	// signature.
	ErrDealChanged = errors.New("countersigned deal differs from the proposal")
	// ErrWrongEntry is returned by FetchInclusion when the proof is for
	// another index than the one asked for.
	ErrWrongEntry = errors.New("proof is for another entry")
)

// codeErr maps a reply code to the error a caller tests with errors.Is.
func codeErr(c Code) error {
	refused := func(err error) error { return fmt.Errorf("%w: %w", ErrRefused, err) }
	switch c {
	case CodeOK:
		return nil
	case CodeBadRequest:
		return ErrBadRequest
	case CodeRefused:
		return ErrRefused
	case CodeBadSignature:
		return refused(ledger.ErrBadSignature)
	case CodeNoDeal:
		return refused(ledger.ErrNoDeal)
	case CodeDuplicate:
		return fmt.Errorf("%w: %w: %w", ErrRefused, ErrDuplicate, ledger.ErrDuplicateOutcome)
	case CodeSequence:
		return fmt.Errorf("%w: %w: %w", ErrRefused, ErrDuplicate, ledger.ErrSequence)
	case CodeNotFound:
		return ledger.ErrNotFound
	case CodeBusy:
		return ErrBusy
	case CodeInternal:
		return ErrRemoteInternal
	case CodeTimeout:
		return ErrRemoteTimeout
	case CodeDealOverlap:
		return refused(ledger.ErrDealOverlap)
	case CodeSelfDealing:
		return refused(ledger.ErrSelfDealing)
	case CodeNotParty:
		return refused(ledger.ErrNotParty)
	case CodeNotAuditor:
		return refused(ledger.ErrNotAuditor)
	case CodeTerms:
		return refused(ledger.ErrTerms)
	case CodeBytesDecreased:
		return refused(ledger.ErrBytesDecreased)
	case CodeSessionMismatch:
		return refused(ledger.ErrSessionMismatch)
	case CodeUnavailable:
		return ErrUnavailable
	case CodeDealEnded:
		return refused(ledger.ErrDealEnded)
	}
	return fmt.Errorf("%w %d", ErrUnknownCode, uint64(c))
}

// remoteError is the error for a non-OK reply.
func remoteError(c Code, text string) error {
	if text == "" {
		return fmt.Errorf("remote %v: %w", c, codeErr(c))
	}
	return fmt.Errorf("remote %v %q: %w", c, text, codeErr(c))
}

// replyText is the error text a server sends: enough for the peer to see
// what was wrong, valid UTF-8, at most MaxTextSize bytes. Internal errors
// are not described, as they may name local paths; the server logs them.
func replyText(c Code, err error) string {
	if err == nil || c == CodeInternal {
		return ""
	}
	s := strings.ToValidUTF8(err.Error(), "?")
	for len(s) > MaxTextSize {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	return s
}

// entryRequest carries one encoded entry: a deal proposal (typeProposeDeal)
// or an entry to log (typeSubmit). The server decodes the entry itself
// with ledger.DecodeEntry.
type entryRequest struct {
	typ   byte
	entry []byte
}

// checkpointRequest asks for the latest signed checkpoint.
type checkpointRequest struct{}

// consistencyRequest asks for the proof that the tree of size newSize
// extends the one of size oldSize.
type consistencyRequest struct{ oldSize, newSize int64 }

// inclusionRequest asks for the inclusion proof of entry index.
type inclusionRequest struct{ index int64 }

// reply answers every request. payload is empty unless code is OK.
type reply struct {
	code    Code
	text    string
	payload []byte
}

func (m entryRequest) append(b []byte) []byte {
	b = append(b, m.typ)
	b = binary.AppendUvarint(b, uint64(len(m.entry)))
	return append(b, m.entry...)
}

func (checkpointRequest) append(b []byte) []byte { return append(b, typeGetCheckpoint) }

func (m consistencyRequest) append(b []byte) []byte {
	b = append(b, typeProveConsistency)
	b = binary.AppendUvarint(b, uint64(m.oldSize))
	return binary.AppendUvarint(b, uint64(m.newSize))
}

func (m inclusionRequest) append(b []byte) []byte {
	b = append(b, typeProveInclusion)
	return binary.AppendUvarint(b, uint64(m.index))
}

func (m reply) append(b []byte) []byte {
	b = append(b, typeReply)
	b = binary.AppendUvarint(b, uint64(m.code))
	b = binary.AppendUvarint(b, uint64(len(m.text)))
	b = append(b, m.text...)
	b = binary.AppendUvarint(b, uint64(len(m.payload)))
	return append(b, m.payload...)
}

// request is any of the requests.
type request interface {
	message
	// payloadBound is the largest payload an OK reply to it may carry.
	payloadBound() int
}

func (m entryRequest) payloadBound() int {
	if m.typ == typeProposeDeal {
		return ledger.MaxEntrySize
	}
	return 0
}
func (checkpointRequest) payloadBound() int  { return ledger.MaxCheckpointSize }
func (consistencyRequest) payloadBound() int { return MaxTreeProofSize }
func (inclusionRequest) payloadBound() int   { return ledger.MaxInclusionProofSize }

// replyLimit is the largest reply frame body that can answer req.
func replyLimit(req request) int {
	return MaxReplySize - MaxPayloadSize + req.payloadBound()
}

// decodeRequest decodes the first frame of a stream, whichever request it
// is, checking every field against the protocol's bounds. Entries stay
// encoded: the server decodes them with the ledger's own decoder.
func decodeRequest(b []byte) (request, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty request", ErrMalformed)
	}
	d := decoder{b: b[1:]}
	var req request
	var what string
	switch b[0] {
	case typeProposeDeal, typeSubmit:
		n := d.bounded("entry length", 1, ledger.MaxEntrySize)
		req, what = entryRequest{typ: b[0], entry: d.take(int(n), "entry")}, "entry request"
	case typeGetCheckpoint:
		req, what = checkpointRequest{}, "checkpoint request"
	case typeProveConsistency:
		m := consistencyRequest{oldSize: int64(d.bounded("old size", 0, MaxIndex))}
		m.newSize = int64(d.bounded("new size", uint64(m.oldSize), MaxIndex))
		req, what = m, "consistency request"
	case typeProveInclusion:
		req, what = inclusionRequest{index: int64(d.bounded("index", 0, MaxIndex-1))}, "inclusion request"
	default:
		return nil, fmt.Errorf("%w: unknown request type %d", ErrMalformed, b[0])
	}
	if err := d.done(what); err != nil {
		return nil, err
	}
	return req, nil
}

// decodeReply decodes a reply whose payload may be at most bound bytes.
func decodeReply(b []byte, bound int) (reply, error) {
	d := decoder{b: b}
	var m reply
	d.typ(typeReply)
	m.code = Code(d.bounded("code", 0, math.MaxInt64))
	n := d.bounded("text length", 0, MaxTextSize)
	if s := d.take(int(n), "text"); d.err == nil {
		if !utf8.Valid(s) {
			d.fail("text is not UTF-8")
		}
		m.text = string(s)
	}
	n = d.bounded("payload length", 0, uint64(bound))
	if d.err == nil && m.code != CodeOK && n != 0 {
		d.fail("%v reply carries %d payload bytes", m.code, n)
	}
	if p := d.take(int(n), "payload"); d.err == nil && n > 0 {
		m.payload = p
	}
	return m, d.done("reply")
}

// decoder reads fields off a frame body, keeping the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, args...)
	}
}

func (d *decoder) typ(want byte) {
	if d.err != nil {
		return
	}
	if len(d.b) == 0 {
		d.fail("empty message")
		return
	}
	if d.b[0] != want {
		d.fail("message type %d, want %d", d.b[0], want)
		return
	}
	d.b = d.b[1:]
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if len(d.b) < n {
		d.fail("%s truncated to %d of %d bytes", what, len(d.b), n)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// uvarint reads a minimally encoded unsigned varint.
func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n, err := varint.Uvarint(d.b)
	if err != nil {
		d.fail("number: %v", err)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bounded reads a uvarint that must lie in [lo, hi].
func (d *decoder) bounded(what string, lo, hi uint64) uint64 {
	v := d.uvarint()
	if d.err == nil && (v < lo || v > hi) {
		d.fail("%s %d not in [%d, %d]", what, v, lo, hi)
		return 0
	}
	return v
}

func (d *decoder) done(what string) error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return fmt.Errorf("%w: %s: %w", ErrMalformed, what, d.err)
	}
	return nil
}

// message is any frame body.
type message interface{ append([]byte) []byte }

// writeFrame sends m as one frame in one Write, so a frame never straddles
// two writes on the stream.
func writeFrame(w io.Writer, m message) error {
	frame := frame.Append(nil, m.append(nil))
	if len(frame) > MaxReplySize+binary.MaxVarintLen32 {
		panic(fmt.Sprintf("ledgerproto: %T encodes to %d bytes, over the frame limit", m, len(frame)))
	}
	_, err := w.Write(frame)
	return err
}

// readFrame reads one frame whose body is at most max bytes (see
// frame.Read); a frame that breaks the rules is ErrMalformed.
func readFrame(r io.Reader, max int) ([]byte, error) {
	body, err := frame.Read(r, max, nil)
	if errors.Is(err, frame.ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return body, err
}
