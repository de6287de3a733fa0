// Package varint reads unsigned varints in their one canonical form. Every
// binary format in dsn (manifests, wire frames, the shard index) requires
// the shortest encoding, so that each value has exactly one byte string;
// the rule lives here once.
package varint

import (
	"encoding/binary"
	"errors"
)

// Errors returned by Uvarint.
var (
	// ErrTruncated is returned when the input ends inside a varint.
	ErrTruncated = errors.New("varint truncated")
	// ErrOverflow is returned for a varint that does not fit in 64 bits.
	ErrOverflow = errors.New("varint overflows 64 bits")
	// ErrNotMinimal is returned for a varint with redundant trailing zero
	// groups, such as 0x80 0x00 for 0.
	ErrNotMinimal = errors.New("varint is not minimally encoded")
)

// Uvarint decodes the varint at the start of b and returns it and the
// number of bytes it took.
func Uvarint(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, 0, ErrTruncated
	case n < 0:
		return 0, 0, ErrOverflow
	case n > 1 && b[n-1] == 0:
		return 0, 0, ErrNotMinimal
	}
	return v, n, nil
}
