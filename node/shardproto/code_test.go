package shardproto

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// A result code is a number like any other in a body: at most 2^63-1. A
// larger one is a malformed frame, not an unknown code.
func TestResultCodeOver63BitsIsMalformed(t *testing.T) {
	for _, code := range []uint64{math.MaxInt64 + 1, math.MaxUint64} {
		put := binary.AppendUvarint([]byte{typePutResult}, code)
		put = append(put, 0) // no text
		if _, err := decodePutResult(put); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodePutResult(code %d) = %v, want ErrMalformed", code, err)
		}
		get := binary.AppendUvarint([]byte{typeGetResponse}, code)
		get = append(get, 0, 0, 0) // size, length, no text
		if _, err := decodeGetResponse(get); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeGetResponse(code %d) = %v, want ErrMalformed", code, err)
		}
	}
	ok := binary.AppendUvarint([]byte{typePutResult}, math.MaxInt64)
	if r, err := decodePutResult(append(ok, 0)); err != nil || r.code != math.MaxInt64 {
		t.Errorf("decodePutResult(code 2^63-1) = %+v, %v; want that code, nil", r, err)
	}
}
