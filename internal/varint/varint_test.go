package varint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestUvarint(t *testing.T) {
	tests := []struct {
		in   []byte
		v    uint64
		n    int
		want error
	}{
		{[]byte{0}, 0, 1, nil},
		{[]byte{0x7f, 0xff}, 127, 1, nil},
		{[]byte{0x80, 0x01}, 128, 2, nil},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<64 - 1, 10, nil},
		{nil, 0, 0, ErrTruncated},
		{[]byte{0x80}, 0, 0, ErrTruncated},
		{[]byte{0x80, 0x00}, 0, 0, ErrNotMinimal},
		{[]byte{0x81, 0x80, 0x00}, 0, 0, ErrNotMinimal},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, 0, ErrOverflow},
	}
	for _, tt := range tests {
		v, n, err := Uvarint(tt.in)
		if v != tt.v || n != tt.n || !errors.Is(err, tt.want) {
			t.Errorf("Uvarint(%x) = %d, %d, %v; want %d, %d, %v", tt.in, v, n, err, tt.v, tt.n, tt.want)
		}
	}
}

// FuzzUvarint checks the canonical rule a second way: a varint is accepted
// exactly when re-encoding its value gives back the bytes it was read from.
func FuzzUvarint(f *testing.F) {
	f.Add([]byte{0x80, 0x00})
	f.Add([]byte{0xac, 0x02})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Uvarint(b)
		rv, rn := binary.Uvarint(b)
		if rn <= 0 {
			if err == nil {
				t.Fatalf("Uvarint(%x) accepted what binary.Uvarint rejects", b)
			}
			return
		}
		canonical := bytes.Equal(binary.AppendUvarint(nil, rv), b[:rn])
		if (err == nil) != canonical {
			t.Fatalf("Uvarint(%x) = %v; canonical = %v", b, err, canonical)
		}
		if err == nil && (v != rv || n != rn) {
			t.Fatalf("Uvarint(%x) = %d, %d; want %d, %d", b, v, n, rv, rn)
		}
	})
}
