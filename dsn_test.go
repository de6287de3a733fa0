package dsn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mr-tron/base58"
)

func TestVerifyReader(t *testing.T) {
	data := bytes.Repeat([]byte("shard bytes "), 10000)
	id := SumShard(data)
	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 1
	tests := []struct {
		name string
		id   ShardID
		size int64
		r    io.Reader
		want error // nil: the whole shard reads back
	}{
		{"good", id, int64(len(data)), bytes.NewReader(data), nil},
		{"good one byte at a time", id, int64(len(data)), iotest.OneByteReader(bytes.NewReader(data)), nil},
		{"good with data after", id, int64(len(data)), io.MultiReader(bytes.NewReader(data), strings.NewReader("trailer")), nil},
		{"empty", SumShard(nil), 0, strings.NewReader(""), nil},
		{"flipped bit", id, int64(len(data)), bytes.NewReader(flipped), ErrCorruptShard},
		{"short", id, int64(len(data)), bytes.NewReader(data[:len(data)-1]), ErrShardSize},
		{"size too small", id, int64(len(data)) - 1, bytes.NewReader(data), ErrCorruptShard},
		{"negative size", id, -1, bytes.NewReader(data), ErrShardSize},
		{"size over the limit", id, MaxShardSize + 1, bytes.NewReader(data), ErrShardSize},
		{"reader error", id, int64(len(data)), iotest.TimeoutReader(bytes.NewReader(data)), iotest.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vr := VerifyReader(tt.id, tt.size, tt.r)
			got, err := io.ReadAll(vr)
			if tt.want == nil {
				if err != nil || int64(len(got)) != tt.size {
					t.Fatalf("read %d bytes, %v; want %d bytes, no error", len(got), err, tt.size)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("read error = %v, want %v", err, tt.want)
			}
			// The error sticks: a caller that reads again never sees io.EOF.
			if _, err2 := vr.Read(make([]byte, 1)); !errors.Is(err2, tt.want) {
				t.Fatalf("read after failure = %v, want %v again", err2, tt.want)
			}
		})
	}
}

func TestVerifyReaderReadsNoFurtherThanSize(t *testing.T) {
	data := []byte("0123456789")
	src := bytes.NewReader(append(bytes.Clone(data), "rest"...))
	if _, err := io.ReadAll(VerifyReader(SumShard(data), int64(len(data)), src)); err != nil {
		t.Fatal(err)
	}
	if rest, _ := io.ReadAll(src); string(rest) != "rest" {
		t.Fatalf("source left with %q, want %q", rest, "rest")
	}
}

func TestShardIDText(t *testing.T) {
	id := SumShard([]byte("x"))
	got, err := ParseShardID(id.String())
	if err != nil || got != id {
		t.Fatalf("ParseShardID(%q) = %v, %v; want %v", id.String(), got, err, id)
	}
	for _, bad := range []string{"", "00", strings.Repeat("g", 64), id.String() + "00"} {
		if _, err := ParseShardID(bad); err == nil {
			t.Errorf("ParseShardID(%q) succeeded, want an error", bad)
		}
	}
	if mh := id.Multihash(); len(mh) != 34 || mh[0] != 0x1e || mh[1] != 32 || !bytes.Equal(mh[2:], id[:]) {
		t.Errorf("Multihash() = %x, want 1e20 followed by the id", mh)
	}
}

func FuzzParseShardID(f *testing.F) {
	f.Add(SumShard(nil).String())
	f.Add("zz")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseShardID(s)
		if err != nil {
			return
		}
		if !strings.EqualFold(id.String(), s) {
			t.Fatalf("ParseShardID(%q) = %s, which prints differently", s, id)
		}
	})
}

func TestPeerIDString(t *testing.T) {
	// The binary form of 12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA,
	// whose base58 form libp2p prints.
	const text = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
	raw, err := base58.Decode(text)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id   PeerID
		want string
	}{
		{PeerID(raw), text},
		{"provider-3", "provider-3"},
		{"has space", base58.Encode([]byte("has space"))},
		{"", ""},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("PeerID(%q).String() = %q, want %q", string(tt.id), got, tt.want)
		}
		if got := fmt.Sprintf("%v", tt.id); got != tt.want {
			t.Errorf("%%v of PeerID(%q) = %q, want %q", string(tt.id), got, tt.want)
		}
	}
}
