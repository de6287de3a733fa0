package auditproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/internal/varint"
	"github.com/dsn-project/dsn/proofs"
	"github.com/dsn-project/dsn/proofs/compact"
)

// Protocol is the ID of the challenge protocol. The version is part of the
// ID: an incompatible change to a message gets a new ID, never a
// reinterpreted field.
const Protocol = "/dsn/challenge/1.0.0"

// Bounds of the protocol. Both sides enforce them; a request beyond them is
// answered BadRequest, a reply beyond them is a failed audit.
const (
	// MaxRequestSize bounds a request frame's body. The largest request is
	// a compact challenge of MaxTargets shards, 37 bytes each at most.
	MaxRequestSize = 64 << 10
	// MaxReplySize bounds a reply frame's body: a code, a length and an
	// error text.
	MaxReplySize = 1024
	// MaxTextSize bounds the error text in a reply, in bytes.
	MaxTextSize = 256
	// MaxMerkleSamples bounds c in a Merkle challenge. Anyone may send one,
	// so it is kept well below merkle.MaxSamples: 4096 samples make the
	// provider read at most 64 MiB and send a proof of at most 7 MB, and
	// still cover proofs.SamplesFor(0.001, 0.98) = 3910.
	MaxMerkleSamples = 4096
	// MaxTargets bounds the shards one compact challenge covers. An owner
	// with more shards on one provider sends several challenges.
	MaxTargets = 1024
	// MaxPicks bounds c times the number of targets of a compact challenge:
	// 2^18 blocks are 1.6 GB of reads, about 570 shards at c = 459. It is a
	// quarter of compact.MaxPicks so that one request cannot hold a
	// provider's disk for much longer than an honest audit needs.
	MaxPicks = 1 << 18
	// MaxTagsSize bounds a PutTags body: the tags of a shard of
	// dsn.MaxShardSize bytes, about 11 MB.
	MaxTagsSize = 1 + compact.ScalarSize*((dsn.MaxShardSize+compact.BlockSize-1)/compact.BlockSize)
)

// Message types: the first byte of every frame body, so that a frame of one
// kind is never read as another. The first frame of a stream is a request
// and its type says which.
const (
	typePutTags = 1
	typeMerkle  = 2
	typeCompact = 3
	typeReply   = 4
)

// Code is a result code carried on the wire. The list is append-only: a
// code's number never changes meaning.
type Code uint64

// Result codes. See doc.go for which outcome each gives an audit.
const (
	CodeOK           Code = 0
	CodeNotFound     Code = 1  // the shard is not held: dsn.ErrShardNotFound
	CodeCorrupt      Code = 2  // the held bytes do not hash to the shard ID: dsn.ErrCorruptShard
	CodeNoTags       Code = 3  // no tags from the requesting owner for a target: ErrNoTags
	CodeBadRequest   Code = 4  // malformed or out-of-bounds request: ErrBadRequest
	CodeSizeMismatch Code = 5  // tags or a target's size do not fit the held shard: dsn.ErrShardSize
	CodeInternal     Code = 6  // the provider failed for a reason of its own: ErrRemoteInternal
	CodeBusy         Code = 7  // at the provider's concurrency limit: ErrBusy
	CodeUnavailable  Code = 8  // the provider's store is closed: ErrUnavailable
	CodeTimeout      Code = 9  // the provider's own deadline passed: ErrRemoteTimeout
	CodeRefused      Code = 10 // the provider does not keep tags from this peer: ErrRefused
)

var codeNames = [...]string{"OK", "NotFound", "Corrupt", "NoTags", "BadRequest", "SizeMismatch", "Internal", "Busy", "Unavailable", "Timeout", "Refused"}

func (c Code) String() string {
	if c < Code(len(codeNames)) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint64(c))
}

var (
	// ErrMalformed is returned when the remote peer sends bytes that break
	// the wire format: an oversized or truncated frame, a non-canonical
	// number, an unknown message type, a field out of bounds, or trailing
	// bytes.
	ErrMalformed = errors.New("malformed challenge protocol message")
	// ErrNoTags is returned when the provider holds no compact tags from
	// the challenging owner for a target shard (code NoTags).
	ErrNoTags = errors.New("provider holds no tags from this owner for the shard")
	// ErrBadRequest is returned when the remote peer rejected the request
	// as malformed or out of bounds (code BadRequest).
	ErrBadRequest = errors.New("remote rejected the request as malformed")
	// ErrRemoteInternal is returned when the remote peer failed for a
	// reason of its own (code Internal).
	ErrRemoteInternal = errors.New("remote internal error")
	// ErrBusy is returned when the remote peer is serving as many requests
	// as it allows (code Busy).
	ErrBusy = errors.New("remote busy")
	// ErrUnavailable is returned when the remote peer's store is closed
	// (code Unavailable).
	ErrUnavailable = errors.New("remote store unavailable")
	// ErrRemoteTimeout is returned when the remote peer gave up because
	// its own deadline passed (code Timeout).
	ErrRemoteTimeout = errors.New("remote timed out")
	// ErrRefused is returned by PutTags when the provider does not accept
	// tags from this peer for the shard (code Refused).
	ErrRefused = errors.New("remote refused the tags")
	// ErrUnknownCode is returned for a reply code this version does not
	// know.
	ErrUnknownCode = errors.New("unknown result code")
)

// codeErr maps a reply code to the error a caller tests with errors.Is.
func codeErr(c Code) error {
	switch c {
	case CodeOK:
		return nil
	case CodeNotFound:
		return dsn.ErrShardNotFound
	case CodeCorrupt:
		return dsn.ErrCorruptShard
	case CodeNoTags:
		return ErrNoTags
	case CodeBadRequest:
		return ErrBadRequest
	case CodeSizeMismatch:
		return dsn.ErrShardSize
	case CodeInternal:
		return ErrRemoteInternal
	case CodeBusy:
		return ErrBusy
	case CodeUnavailable:
		return ErrUnavailable
	case CodeTimeout:
		return ErrRemoteTimeout
	case CodeRefused:
		return ErrRefused
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

// putTagsRequest announces length bytes of encoded compact tags for shard
// id; the tags follow the frame as raw bytes.
type putTagsRequest struct {
	id     dsn.ShardID
	length int64
}

// merkleRequest is a Merkle challenge: prove c samples of shard id under
// seed.
type merkleRequest struct {
	id   dsn.ShardID
	seed proofs.Seed
	c    int
}

// compactRequest is a compact challenge over targets, c blocks each.
type compactRequest struct {
	seed    proofs.Seed
	c       int
	targets []compact.Target
}

// reply answers every request; length raw proof bytes follow it when code
// is OK (none for PutTags).
type reply struct {
	code   Code
	length int64
	text   string
}

func (m putTagsRequest) append(b []byte) []byte {
	b = append(b, typePutTags)
	b = append(b, m.id[:]...)
	return binary.AppendUvarint(b, uint64(m.length))
}

func (m merkleRequest) append(b []byte) []byte {
	b = append(b, typeMerkle)
	b = append(b, m.id[:]...)
	b = append(b, m.seed[:]...)
	return binary.AppendUvarint(b, uint64(m.c))
}

func (m compactRequest) append(b []byte) []byte {
	b = append(b, typeCompact)
	b = append(b, m.seed[:]...)
	b = binary.AppendUvarint(b, uint64(m.c))
	b = binary.AppendUvarint(b, uint64(len(m.targets)))
	for _, t := range m.targets {
		b = append(b, t.ID[:]...)
		b = binary.AppendUvarint(b, uint64(t.Size))
	}
	return b
}

func (m reply) append(b []byte) []byte {
	b = append(b, typeReply)
	b = binary.AppendUvarint(b, uint64(m.code))
	b = binary.AppendUvarint(b, uint64(m.length))
	b = binary.AppendUvarint(b, uint64(len(m.text)))
	return append(b, m.text...)
}

// request is any of the three requests.
type request interface {
	message
	isRequest()
}

func (putTagsRequest) isRequest() {}
func (merkleRequest) isRequest()  {}
func (compactRequest) isRequest() {}

// decodeRequest decodes the first frame of a stream, whichever request it
// is, checking every field against the protocol's bounds.
func decodeRequest(b []byte) (request, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty request", ErrMalformed)
	}
	switch b[0] {
	case typePutTags:
		return decodePutTags(b)
	case typeMerkle:
		return decodeMerkle(b)
	case typeCompact:
		return decodeCompact(b)
	}
	return nil, fmt.Errorf("%w: unknown request type %d", ErrMalformed, b[0])
}

func decodePutTags(b []byte) (putTagsRequest, error) {
	d := decoder{b: b}
	var m putTagsRequest
	d.typ(typePutTags)
	d.bytes(m.id[:])
	m.length = int64(d.bounded("tags length", 1, MaxTagsSize))
	return m, d.done("put tags request")
}

func decodeMerkle(b []byte) (merkleRequest, error) {
	d := decoder{b: b}
	var m merkleRequest
	d.typ(typeMerkle)
	d.bytes(m.id[:])
	d.bytes(m.seed[:])
	m.c = int(d.bounded("sample count", 1, MaxMerkleSamples))
	return m, d.done("merkle challenge")
}

func decodeCompact(b []byte) (compactRequest, error) {
	d := decoder{b: b}
	var m compactRequest
	d.typ(typeCompact)
	d.bytes(m.seed[:])
	m.c = int(d.bounded("sample count", 1, compact.MaxSamples))
	n := int(d.bounded("target count", 1, MaxTargets))
	if d.err == nil && m.c*n > MaxPicks {
		d.fail("%d targets of %d samples exceed %d challenged blocks", n, m.c, MaxPicks)
	}
	// Every target takes at least 33 bytes, so a count the body cannot
	// hold is refused before the slice is made.
	if d.err == nil && n > len(d.b)/(dsn.ShardIDSize+1) {
		d.fail("%d targets in %d bytes", n, len(d.b))
	}
	if d.err == nil {
		m.targets = make([]compact.Target, n)
		seen := make(map[dsn.ShardID]bool, n)
		for i := range m.targets {
			t := &m.targets[i]
			d.bytes(t.ID[:])
			t.Size = int64(d.bounded("target size", 1, dsn.MaxShardSize))
			if d.err == nil && seen[t.ID] {
				d.fail("shard %s listed twice", t.ID.Short())
			}
			seen[t.ID] = true
		}
	}
	return m, d.done("compact challenge")
}

func decodeReply(b []byte) (reply, error) {
	d := decoder{b: b}
	var m reply
	d.typ(typeReply)
	m.code = Code(d.bounded("code", 0, math.MaxInt64))
	m.length = int64(d.bounded("proof length", 0, math.MaxInt64))
	m.text = d.text()
	if d.err == nil && m.code != CodeOK && m.length != 0 {
		d.fail("%v reply announces %d proof bytes", m.code, m.length)
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

func (d *decoder) bytes(dst []byte) {
	if d.err != nil {
		return
	}
	if len(d.b) < len(dst) {
		d.fail("truncated: %d bytes left, want %d", len(d.b), len(dst))
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
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

func (d *decoder) text() string {
	n := d.bounded("text length", 0, MaxTextSize)
	if d.err != nil {
		return ""
	}
	if uint64(len(d.b)) < n {
		d.fail("text truncated to %d of %d bytes", len(d.b), n)
		return ""
	}
	s := d.b[:n]
	if !utf8.Valid(s) {
		d.fail("text is not UTF-8")
		return ""
	}
	d.b = d.b[n:]
	return string(s)
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
	if len(frame) > MaxRequestSize+binary.MaxVarintLen32 {
		panic(fmt.Sprintf("auditproto: %T encodes to %d bytes, over the frame limit", m, len(frame)))
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
