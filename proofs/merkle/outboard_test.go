package merkle

import (
	"bytes"
	"errors"
	"testing"

	"github.com/dsn-project/dsn"
	"github.com/zeebo/blake3"
)

var outboardSizes = []int{0, 1, 1023, 1024, 1025, GroupSize - 1, GroupSize, GroupSize + 1, 2 * GroupSize, 3*GroupSize + 5, 100 * 1024, 1<<20 + 7}

func TestOutboardMatchesReference(t *testing.T) {
	for _, size := range outboardSizes {
		data := randomBytes(byte(size), size)
		ob, err := BuildOutboard(data)
		if err != nil {
			t.Fatalf("BuildOutboard(%d bytes): %v", size, err)
		}
		if got, want := ob.Root(), dsn.ShardID(blake3.Sum256(data)); got != want {
			t.Errorf("BuildOutboard(%d bytes).Root() = %s, want %s", size, got.Short(), want.Short())
		}
		if ob.Size() != int64(size) {
			t.Errorf("BuildOutboard(%d bytes).Size() = %d", size, ob.Size())
		}
		groups := ob.levels[0]
		if uint64(len(groups)) != groupCount(int64(size)) {
			t.Fatalf("BuildOutboard(%d bytes) has %d groups, want %d", size, len(groups), groupCount(int64(size)))
		}
		for g := range groups {
			lo := g * GroupSize
			want := subtreeCV(data[lo:min(lo+GroupSize, size)], uint64(g*GroupChunks), false)
			if groups[g] != want {
				t.Errorf("BuildOutboard(%d bytes): group %d = %x, reference %x", size, g, groups[g].bytes(), want.bytes())
			}
		}
	}
}

// Writes of any sizes give the outboard of the whole shard at once.
func TestOutboardWriterStreaming(t *testing.T) {
	data := randomBytes(7, 5*GroupSize+300)
	whole, _ := BuildOutboard(data)
	want, _ := whole.MarshalBinary()
	for _, step := range []int{1, 100, 1024, GroupSize - 1, GroupSize, GroupSize + 1, 3 * GroupSize} {
		w := NewOutboardWriter()
		for off := 0; off < len(data); off += step {
			if n, err := w.Write(data[off:min(off+step, len(data))]); err != nil || n != min(step, len(data)-off) {
				t.Fatalf("Write(step %d) at %d = %d, %v", step, off, n, err)
			}
			if off == 2*GroupSize {
				// Sum in the middle must not disturb the writer.
				if got := w.Sum(); got.Size() != int64(off+min(step, len(data)-off)) {
					t.Fatalf("mid-stream Sum().Size() = %d", got.Size())
				}
			}
		}
		got, _ := w.Sum().MarshalBinary()
		if !bytes.Equal(got, want) {
			t.Errorf("outboard written in steps of %d differs from the one-shot one", step)
		}
	}
}

func TestOutboardWriterRejectsOversize(t *testing.T) {
	w := NewOutboardWriter()
	w.total = dsn.MaxShardSize - 1 // as if that much had been written
	if _, err := w.Write([]byte{1, 2}); !errors.Is(err, ErrOutboardTooLarge) {
		t.Fatalf("Write past dsn.MaxShardSize = %v, want ErrOutboardTooLarge", err)
	}
	if n, err := w.Write([]byte{1}); err != nil || n != 1 {
		t.Fatalf("Write up to dsn.MaxShardSize = %d, %v, want 1, nil", n, err)
	}
}

func TestOutboardRoundTrip(t *testing.T) {
	for _, size := range outboardSizes {
		ob, _ := BuildOutboard(randomBytes(3, size))
		b, err := ob.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + len(varintBytes(uint64(size))) + 32 + 32*int(groupCount(int64(size))); len(b) != want {
			t.Errorf("outboard of %d bytes encodes to %d bytes, want %d", size, len(b), want)
		}
		got, err := UnmarshalOutboard(b)
		if err != nil {
			t.Fatalf("UnmarshalOutboard(outboard of %d bytes) = %v", size, err)
		}
		b2, _ := got.MarshalBinary()
		if !bytes.Equal(b, b2) || got.Root() != ob.Root() || got.Size() != ob.Size() {
			t.Errorf("outboard of %d bytes does not survive a round trip", size)
		}
	}
}

func TestUnmarshalOutboardRejects(t *testing.T) {
	ob, _ := BuildOutboard(randomBytes(4, 3*GroupSize+1))
	good, _ := ob.MarshalBinary()
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	empty, _ := BuildOutboard(nil)
	emptyEnc, _ := empty.MarshalBinary()
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty input", nil, ErrOutboardFormat},
		{"version 2", mod(func(b []byte) []byte { b[0] = 2; return b }), ErrOutboardFormat},
		{"truncated", good[:len(good)-1], ErrOutboardFormat},
		{"trailing byte", append(bytes.Clone(good), 0), ErrOutboardFormat},
		{"size not minimal", append([]byte{1, 0x80, 0x00}, emptyEnc[2:]...), ErrOutboardFormat},
		{"size truncated", []byte{1, 0x80}, ErrOutboardFormat},
		{"size above maximum", append([]byte{1}, varintBytes(dsn.MaxShardSize+1)...), ErrOutboardTooLarge},
		{"input above maximum", make([]byte, MaxOutboardSize+1), ErrOutboardTooLarge},
		{"flipped group", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrOutboardCorrupt},
		{"flipped root", mod(func(b []byte) []byte { b[5] ^= 1; return b }), ErrOutboardCorrupt},
		{"empty shard wrong root", mod(func(b []byte) []byte { return append([]byte{1, 0}, b[len(b)-32:]...) }), ErrOutboardCorrupt},
	}
	for _, tt := range tests {
		if _, err := UnmarshalOutboard(tt.b); !errors.Is(err, tt.want) {
			t.Errorf("UnmarshalOutboard(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func varintBytes(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}
