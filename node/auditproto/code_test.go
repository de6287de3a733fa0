package auditproto

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// A reply's code is a number like any other in a body: at most 2^63-1. A
// larger one is a malformed frame, not an unknown code.
func TestReplyCodeOver63BitsIsMalformed(t *testing.T) {
	for _, code := range []uint64{math.MaxInt64 + 1, math.MaxUint64} {
		b := binary.AppendUvarint([]byte{typeReply}, code)
		b = append(b, 0, 0) // no proof, no text
		if _, err := decodeReply(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeReply(code %d) = %v, want ErrMalformed", code, err)
		}
	}
}
