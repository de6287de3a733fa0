// Package frame is the length-prefixed framing every dsn stream protocol
// uses (node/shardproto, node/auditproto, node/ledgerproto): a minimal
// uvarint length, then that many bytes of body. The rules, bounds and
// error cases live here once; each protocol keeps its own body formats.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed is returned for a frame that breaks the rules: a length
// over the bound, not minimally encoded, or zero.
var ErrMalformed = errors.New("malformed frame")

// Append appends body behind its uvarint length prefix.
func Append(b, body []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(body)))
	return append(b, body...)
}

// Read reads one frame whose body is at most max bytes and returns the
// body: in buf when buf has room for it (len(buf) >= max), else in memory
// allocated only once the length is known to be within max. It reads no
// byte past the frame, so raw bytes that follow stay in the stream. A
// stream that ends before the first byte gives io.EOF; one that ends
// inside a frame gives io.ErrUnexpectedEOF.
func Read(r io.Reader, max int, buf []byte) ([]byte, error) {
	maxPrefix := len(binary.AppendUvarint(nil, uint64(max)))
	var n uint64
	var one [1]byte
	for i := 0; ; i++ {
		if i == maxPrefix {
			return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, max)
		}
		if _, err := io.ReadFull(r, one[:]); err != nil {
			if i > 0 && err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		c := one[0]
		if i > 0 && c == 0 {
			return nil, fmt.Errorf("%w: length not minimally encoded", ErrMalformed)
		}
		n |= uint64(c&0x7f) << (7 * i)
		if n > uint64(max) {
			return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, max)
		}
		if c < 0x80 {
			break
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	var body []byte
	if uint64(len(buf)) >= n {
		body = buf[:n]
	} else {
		body = make([]byte, n)
	}
	if _, err := io.ReadFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}
