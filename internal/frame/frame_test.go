package frame

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		body string
		err  error
	}{
		{"frame", Append(nil, []byte("hello")), 10, "hello", nil},
		{"at the bound", Append(nil, []byte("0123456789")), 10, "0123456789", nil},
		{"over the bound", Append(nil, []byte("0123456789x")), 10, "", ErrMalformed},
		{"long prefix", []byte{0x80, 0x80, 0x01}, 10, "", ErrMalformed},
		{"not minimal", []byte{0x85, 0x00, 'a', 'b', 'c', 'd', 'e'}, 200, "", ErrMalformed},
		{"empty", []byte{0}, 10, "", ErrMalformed},
		{"nothing", nil, 10, "", io.EOF},
		{"cut in the prefix", []byte{0x81}, 1000, "", io.ErrUnexpectedEOF},
		{"cut in the body", []byte{5, 'a', 'b'}, 10, "", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		for _, buf := range [][]byte{nil, make([]byte, tt.max)} {
			in := tt.in
			if tt.err == nil {
				in = append(bytes.Clone(in), "next"...)
			}
			r := bytes.NewReader(in)
			body, err := Read(r, tt.max, buf)
			if !errors.Is(err, tt.err) || string(body) != tt.body {
				t.Errorf("%s (buf %d): Read = %q, %v; want %q, %v", tt.name, len(buf), body, err, tt.body, tt.err)
			}
			if tt.err == nil {
				if rest, _ := io.ReadAll(r); string(rest) != "next" {
					t.Errorf("%s: read past the frame, left %q", tt.name, rest)
				}
			}
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(Append(nil, []byte("hello")), 16)
	f.Add([]byte{0x80, 0x00}, 300)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		body, err := Read(bytes.NewReader(in), max, nil)
		if err != nil {
			return
		}
		if len(body) == 0 || len(body) > max || !bytes.HasPrefix(in, Append(nil, body)) {
			t.Fatalf("Read(%x, %d) = %x, which is not the frame at the start of the input", in, max, body)
		}
	})
}
