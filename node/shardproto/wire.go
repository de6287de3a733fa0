package shardproto

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/dsn-project/dsn"
	"github.com/dsn-project/dsn/internal/frame"
	"github.com/dsn-project/dsn/internal/varint"
)

// Protocol IDs. The version is part of the ID: an incompatible change to a
// message gets a new ID, never a reinterpreted field.
const (
	PutProtocol = "/dsn/shard/put/1.0.0"
	GetProtocol = "/dsn/shard/get/1.0.0"
)

// MaxFrameSize bounds the body of a header frame. The largest message is a
// reply with its full error text, under 300 bytes; anything bigger is a
// broken or hostile peer.
const MaxFrameSize = 1024

// MaxTextSize bounds the error text in a reply, in bytes.
const MaxTextSize = 256

// Message types: the first byte of every frame body, so that a frame of one
// kind is never read as another.
const (
	typePutRequest  = 1
	typePutResult   = 2
	typeGetRequest  = 3
	typeGetResponse = 4
)

// Code is a result code carried on the wire. The list is append-only: a
// code's number never changes meaning.
type Code uint64

// Result codes. See docs/protocols.md.
const (
	CodeOK           Code = 0
	CodeNotFound     Code = 1 // dsn.ErrShardNotFound
	CodeCorrupt      Code = 2 // dsn.ErrCorruptShard
	CodeNoSpace      Code = 3 // dsn.ErrNoSpace
	CodeBadRequest   Code = 4 // ErrBadRequest
	CodeSizeMismatch Code = 5 // dsn.ErrShardSize
	CodeInternal     Code = 6 // ErrRemoteInternal
	CodeBusy         Code = 7 // ErrBusy
	CodeUnavailable  Code = 8 // ErrUnavailable
	CodeTimeout      Code = 9 // ErrRemoteTimeout
)

var codeNames = [...]string{"OK", "NotFound", "Corrupt", "NoSpace", "BadRequest", "SizeMismatch", "Internal", "Busy", "Unavailable", "Timeout"}

func (c Code) String() string {
	if c < Code(len(codeNames)) {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint64(c))
}

var (
	// ErrMalformed is returned when the remote peer sends bytes that break
	// the wire format: an oversized or truncated frame, a non-canonical
	// number, an unknown message type, trailing bytes, or a reply whose
	// lengths contradict the request.
	ErrMalformed = errors.New("malformed shard protocol message")
	// ErrBadRequest is returned when the remote peer rejected the request as
	// malformed (code BadRequest).
	ErrBadRequest = errors.New("remote rejected the request as malformed")
	// ErrRemoteInternal is returned when the remote peer failed for a reason
	// of its own (code Internal).
	ErrRemoteInternal = errors.New("remote internal error")
	// ErrBusy is returned when the remote peer is serving as many transfers
	// as it allows (code Busy); try later or elsewhere.
	ErrBusy = errors.New("remote busy")
	// ErrUnavailable is returned when the remote peer's store is closed or
	// shutting down (code Unavailable).
	ErrUnavailable = errors.New("remote store unavailable")
	// ErrRemoteTimeout is returned when the remote peer gave up on the
	// transfer because its deadline passed (code Timeout).
	ErrRemoteTimeout = errors.New("remote timed out")
	// ErrUnknownCode is returned for a reply code this version does not know.
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
	case CodeNoSpace:
		return dsn.ErrNoSpace
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
	}
	return fmt.Errorf("%w %d", ErrUnknownCode, uint64(c))
}

// errCode maps a store error to the code that tells the client about it.
func errCode(err error) Code {
	switch {
	case err == nil:
		return CodeOK
	case errors.Is(err, dsn.ErrShardNotFound):
		return CodeNotFound
	case errors.Is(err, dsn.ErrCorruptShard):
		return CodeCorrupt
	case errors.Is(err, dsn.ErrShardSize):
		return CodeSizeMismatch
	case errors.Is(err, dsn.ErrNoSpace):
		return CodeNoSpace
	case errors.Is(err, dsn.ErrClosed):
		return CodeUnavailable
	case errors.Is(err, ErrMalformed):
		return CodeBadRequest
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	}
	return CodeInternal
}

// remoteError is the error a client returns for a non-OK reply.
func remoteError(c Code, text string) error {
	if text == "" {
		return fmt.Errorf("remote %v: %w", c, codeErr(c))
	}
	return fmt.Errorf("remote %v %q: %w", c, text, codeErr(c))
}

// replyText is the error text a server sends: enough for the client to see
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

type putRequest struct {
	id   dsn.ShardID
	size int64
}

type putResult struct {
	code Code
	text string
}

type getRequest struct {
	id     dsn.ShardID
	off    int64
	length int64 // -1: to the end of the shard
}

type getResponse struct {
	code   Code
	size   int64 // the whole shard's size
	length int64 // bytes that follow the frame
	text   string
}

func (m putRequest) append(b []byte) []byte {
	b = append(b, typePutRequest)
	b = append(b, m.id[:]...)
	return binary.AppendUvarint(b, uint64(m.size))
}

func (m putResult) append(b []byte) []byte {
	b = append(b, typePutResult)
	b = binary.AppendUvarint(b, uint64(m.code))
	return appendText(b, m.text)
}

func (m getRequest) append(b []byte) []byte {
	b = append(b, typeGetRequest)
	b = append(b, m.id[:]...)
	b = binary.AppendUvarint(b, uint64(m.off))
	// Length plus one, so that "to the end" (-1) is 0.
	return binary.AppendUvarint(b, uint64(m.length+1))
}

func (m getResponse) append(b []byte) []byte {
	b = append(b, typeGetResponse)
	b = binary.AppendUvarint(b, uint64(m.code))
	b = binary.AppendUvarint(b, uint64(m.size))
	b = binary.AppendUvarint(b, uint64(m.length))
	return appendText(b, m.text)
}

func appendText(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func decodePutRequest(b []byte) (putRequest, error) {
	d := decoder{b: b}
	var m putRequest
	d.typ(typePutRequest)
	d.id(&m.id)
	m.size = d.int63()
	return m, d.done("put request")
}

func decodePutResult(b []byte) (putResult, error) {
	d := decoder{b: b}
	var m putResult
	d.typ(typePutResult)
	m.code = Code(d.int63())
	m.text = d.text()
	return m, d.done("put result")
}

func decodeGetRequest(b []byte) (getRequest, error) {
	d := decoder{b: b}
	var m getRequest
	d.typ(typeGetRequest)
	d.id(&m.id)
	m.off = d.int63()
	m.length = d.int63() - 1
	return m, d.done("get request")
}

func decodeGetResponse(b []byte) (getResponse, error) {
	d := decoder{b: b}
	var m getResponse
	d.typ(typeGetResponse)
	m.code = Code(d.int63())
	m.size = d.int63()
	m.length = d.int63()
	m.text = d.text()
	return m, d.done("get response")
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

func (d *decoder) id(id *dsn.ShardID) {
	if d.err != nil {
		return
	}
	if len(d.b) < len(id) {
		d.fail("shard id truncated to %d bytes", len(d.b))
		return
	}
	copy(id[:], d.b)
	d.b = d.b[len(id):]
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

// int63 reads a uvarint that must fit in an int64.
func (d *decoder) int63() int64 {
	v := d.uvarint()
	if v > math.MaxInt64 {
		d.fail("number %d out of range", v)
		return 0
	}
	return int64(v)
}

func (d *decoder) text() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > MaxTextSize {
		d.fail("text of %d bytes, limit %d", n, MaxTextSize)
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

// message is any of the four frame bodies.
type message interface{ append([]byte) []byte }

// writeFrame sends m as one frame in one Write, so a frame never straddles
// two writes on the stream.
func writeFrame(w io.Writer, m message) error {
	var buf [MaxFrameSize + binary.MaxVarintLen64]byte
	body := m.append(buf[binary.MaxVarintLen64:binary.MaxVarintLen64])
	if len(body) > MaxFrameSize {
		panic(fmt.Sprintf("shardproto: %T encodes to %d bytes, over MaxFrameSize", m, len(body)))
	}
	frame := frame.Append(buf[:0:binary.MaxVarintLen64], body)
	_, err := w.Write(frame)
	return err
}

// readFrame reads one frame into buf (at least MaxFrameSize bytes) and
// returns its body (see frame.Read); a frame that breaks the rules is
// ErrMalformed.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	body, err := frame.Read(r, MaxFrameSize, buf)
	if errors.Is(err, frame.ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return body, err
}
